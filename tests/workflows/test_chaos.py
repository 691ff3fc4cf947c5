"""Chaos: orchestrate killed again and again at points across every stage, each time followed by
the same command, until it exits. The end must be the one a run without faults reaches.

A real_component test: a dozen whole runs in real processes (git, uv, bubblewrap where it works)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from agentos.demo import create_sample
from agentos.files import read_jsonl
from tests.helpers import faults
from tests.helpers.repos import git, tree_snapshot
from tests.helpers.sample import edit_config

WORKTREE_ADD = "inside git worktree add (the process tree killed)"
GIT_ADD = "inside git add of the spec, index.lock held (the process tree killed)"
IN_GIT = {WORKTREE_ADD: ("textkit/slug.py", "smudge"), GIT_ADD: ("docs/agentos/issue-1/spec.md", "clean")}
POINTS = [
    "agentos.workflows.orchestrator.driver:drive:before:1",  # before the first checkpoint
    WORKTREE_ADD,
    "agentos.workflows.implementation.venvs:VenvMaker._uv:after:1",  # the venv made, nothing installed yet
    "agentos.llm.client:ModelClient.complete:after:2",  # a model call finished and journalled
    GIT_ADD,
    "agentos.llm.journal:append_line:before:3:torn",  # a model call's journal record cut short
    "agentos.files:os.replace:before:3",  # an atomic write between its temporary file and the rename
    "agentos.repo.testcmd:run_tests:after:1:term",  # SIGTERM after a test run
    "agentos.llm.client:ModelClient.complete:after:3:group",  # the process tree, in the implementation stage
    "agentos.workflows.orchestrator.driver:_resume:after:1",  # at the gate, the decision just read
    "agentos.forge.local:LocalForge.find_or_create_pr:after:1",  # the PR made, not yet checkpointed
]
MAX_RUNS = 3 * len(POINTS)


def _approve(repo: Path) -> None:
    subprocess.run([sys.executable, "-m", "agentos.cli.main", "approve", "1", "--repo", str(repo)],
                   check=True, capture_output=True, text=True)


def _configure(repo: Path) -> Path:
    edit_config(repo, gates={"before_pr": True})
    return repo


def _reference(tmp_path: Path) -> Path:
    """The same issue without faults: the branch a run must end with."""
    repo = _configure(create_sample(tmp_path / "reference"))
    assert faults.run(repo).code == 3
    _approve(repo)
    assert faults.run(repo).code == 0
    return repo


def _user_checkout(repo: Path) -> tuple:
    project = {k: v for k, v in tree_snapshot(repo).items() if not k.startswith((".git/", ".agentos/"))}
    return project, git(repo, "rev-parse", "HEAD", "main"), git(repo, "status", "--porcelain", "--untracked-files=no")


def _chaos(repo: Path) -> tuple[int, list[str]]:
    """Run orchestrate with the next fault each time (approving at the gate) until it exits 0."""
    todo, fired = deque(POINTS), []
    for _ in range(MAX_RUNS):
        point = todo.popleft() if todo else None
        env = faults.git_filter_fault(repo, IN_GIT[point][0], "KILL", IN_GIT[point][1]) if point in IN_GIT else None
        ended = faults.run(repo, None if point is None or point in IN_GIT else point, extra_env=env)
        if point in IN_GIT:
            (Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "info" / "attributes").unlink()
        if point and ended.fired:
            fired.append(point)
        elif point:
            todo.appendleft(point)  # not reached in this run (it paused first): the next one
        assert ended.code in (0, 3) or (ended.fired and ended.code in (-9, 143)), ended.output
        if ended.code == 3:
            _approve(repo)
        elif ended.code == 0 and not todo:
            return ended.code, fired
    raise AssertionError(f"no end after {MAX_RUNS} runs; faults left: {list(todo)}")


@pytest.mark.real_component
def test_killed_at_every_stage_the_same_command_ends_as_a_run_without_faults(sample_repo, tmp_path):
    reference = _reference(tmp_path)
    repo = _configure(sample_repo)
    before = _user_checkout(repo)

    code, fired = _chaos(repo)

    assert code == 0 and fired == POINTS
    assert len(list((repo / ".agentos" / "pulls").glob("*.md"))) == 1
    log = "log", "--format=%s", "main..agentos/issue-1"
    assert git(repo, *log) == git(reference, *log)  # the expected commits and no others
    assert git(repo, "ls-tree", "-r", "agentos/issue-1") == git(reference, "ls-tree", "-r", "agentos/issue-1")
    assert git(repo, "fsck", "--no-progress", "--strict").strip() == ""
    assert _user_checkout(repo) == before

    [journal] = (repo / ".agentos" / "runs").glob("*/calls.jsonl")
    keys = [r["key"] for r in read_jsonl(journal) if "key" in r]  # the torn record has none
    assert len(keys) == len(set(keys)), "a finished model call was paid and journalled twice"
    made = [json.loads(line)["digest"] for line in journal.with_name("scripted-calls.jsonl").read_text().splitlines()]
    repeated = {d for d in made if made.count(d) > 1}
    assert len(repeated) <= 1  # only the call whose journal record was torn was made again
