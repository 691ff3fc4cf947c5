"""What a set-up step leaves in a worktree stays out of git, also when its process dies midway."""

from __future__ import annotations

import pytest

from agentos.repo.git import Checkout
from agentos.workflows.implementation import untracked
from tests.helpers.repos import make_repo


class Killed(BaseException):
    """Stands for the process dying inside the step: nothing after it in this process runs."""


def test_what_a_step_made_is_kept_out_of_git_and_said(tmp_path):
    root = make_repo(tmp_path / "wt", {"README.md": "x\n", "setup.cfg": "[x]\n"})
    with untracked.kept_out_of_git(root) as kept:
        (root / "vendor").mkdir()
        (root / "vendor" / "dep.txt").write_text("dep\n")
        (root / "STAMP").write_text("built\n")
        (root / "setup.cfg").write_text("rewritten\n")
    assert sorted(kept) == ["STAMP", "setup.cfg (restored)", "vendor/"]
    assert Checkout(root).dirty_paths() == [] and not (tmp_path / "wt.setup-pending.json").exists()


def test_a_step_killed_midway_is_finished_by_the_next_run_before_anything_is_committed(tmp_path):
    root = make_repo(tmp_path / "wt", {"README.md": "x\n"})
    (root / "work.py").write_text("the implementer's, uncommitted\n")
    with pytest.raises(Killed), untracked.kept_out_of_git(root):
        (root / "vendor").mkdir()
        (root / "vendor" / "dep.txt").write_text("dep\n")
        (root / "STAMP").write_text("built\n")
        raise Killed

    assert untracked.finish_interrupted(root) == ["STAMP", "vendor/"]
    assert Checkout(root).dirty_paths() == ["work.py"]  # the work stays, to be kept as such
    assert untracked.finish_interrupted(root) == []  # done once
