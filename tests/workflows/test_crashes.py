"""A real orchestrate process killed or interrupted at chosen points (tests/helpers/faults.py),
then the same command again: the run continues where it stopped, and nothing half-made is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import faults
from tests.helpers.repos import git, rev, tree_snapshot


def _pulls(repo: Path) -> list[Path]:
    return sorted((repo / ".agentos" / "pulls").glob("*.md"))


def _branch_files(repo: Path, ref: str = "agentos/issue-1") -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", ref).split())


def _finishes(repo: Path) -> None:
    again = faults.run(repo)
    assert again.code == 0, again.output
    assert len(_pulls(repo)) == 1
    assert _branch_files(repo) >= _branch_files(repo, "main")  # no project file deleted on the branch
    assert git(repo, "fsck", "--no-progress").strip() == ""


@pytest.mark.parametrize("action", ["kill", "int"])
def test_stopped_before_the_first_checkpoint_starts_the_run_on_the_next_command(sample_repo, action):
    first = faults.run(sample_repo, f"agentos.workflows.orchestrator.driver:drive:before:1:{action}")
    assert first.fired
    if action == "int":
        assert first.code == 130 and "run the same command again" in first.output, first.output
    _finishes(sample_repo)


@pytest.mark.parametrize("signal_name", ["INT", "KILL"])
def test_stopped_inside_git_worktree_add_is_finished_or_rebuilt_never_committed(sample_repo, signal_name):
    """Ctrl-C (the whole foreground group gets SIGINT: git cleans up, the new branch stays) and
    a kill of the process tree (git dies mid-checkout: a registered, locked, half-filled worktree)."""
    user_checkout = tree_snapshot(sample_repo / "textkit")
    env = faults.git_checkout_fault(sample_repo, "textkit/slug.py", signal_name)
    first = faults.run(sample_repo, None, extra_env=env)
    assert first.fired and first.code != 0
    assert rev(sample_repo, "agentos/issue-1") is not None  # the branch was made before the checkout
    _finishes(sample_repo)
    commits = git(sample_repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert not any("wip" in c for c in commits), commits
    assert tree_snapshot(sample_repo / "textkit") == user_checkout
