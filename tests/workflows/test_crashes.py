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
