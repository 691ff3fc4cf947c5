"""A real orchestrate process killed or interrupted at chosen points (tests/helpers/faults.py),
then the same command again: the run continues where it stopped, and nothing half-made is kept.

Each test runs the whole pipeline in real processes (git, uv venvs, bubblewrap where it works),
several seconds a run, so they are `real_component` tests; the pieces they rely on have fast
tests beside their modules (files, process, worktrees, venvs)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import faults
from tests.helpers.repos import git, rev, tree_snapshot
from tests.helpers.sample import edit_config

pytestmark = pytest.mark.real_component


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
    env = faults.git_filter_fault(sample_repo, "textkit/slug.py", signal_name)
    first = faults.run(sample_repo, None, extra_env=env)
    assert first.fired and first.code != 0
    assert rev(sample_repo, "agentos/issue-1") is not None  # the branch was made before the checkout
    _finishes(sample_repo)
    commits = git(sample_repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert not any("wip" in c for c in commits), commits
    assert tree_snapshot(sample_repo / "textkit") == user_checkout


def _processes_running(argv: list[str]) -> list[int]:
    """Pids of running (not zombie) processes whose command line is exactly `argv`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")[:-1]
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if [c.decode(errors="replace") for c in cmdline] == argv and state != "Z":
            found.append(int(proc.name))
    return found


def _wait_for(condition, what: str, within_s: float = 120.0):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see processes")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_tests_run_ends_their_whole_group_and_marks_the_run_interrupted(sample_repo, how):
    """SIGTERM (a service manager, `kill PID`) is handled as Ctrl-C is (SIGINT to the foreground group)."""
    marker = ["sleep", str(900000 + os.getpid() % 1000 * 100 + len(how))]
    script = f"import subprocess, time; subprocess.Popen({marker!r}); time.sleep(600)"
    # Unsandboxed: bubblewrap's --die-with-parent would end the grandchild on its own.
    edit_config(sample_repo, sandbox="off",
                stages={"implementation": {"test_command": f"{sys.executable} -c \"{script}\""}})
    proc = faults.start(sample_repo)
    try:
        _wait_for(lambda: _processes_running(marker), "the test command's grandchild started")
        if how == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at the terminal does
        out, _ = proc.communicate(timeout=60)
        leftover = _processes_running(marker)
    finally:
        faults.end_group(proc.pid)
        for pid in _processes_running(marker):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 128 + getattr(signal, how), out
    assert "run the same command again" in out and "Traceback" not in out, out
    assert leftover == [], "the test command's grandchild outlived orchestrate"
    [record] = (sample_repo / ".agentos" / "runs").glob("*/run.json")
    assert json.loads(record.read_text())["status"] == "interrupted"


def _temporaries(repo: Path) -> list[Path]:
    """write_atomic's temporary files in .agentos/ (not inside the worktrees, which are the project's)."""
    worktrees = repo / ".agentos" / "worktrees"
    return [p for p in (repo / ".agentos").rglob(".*.tmp") if p.parent == worktrees or worktrees not in p.parents]


@pytest.mark.parametrize("nth", [1, 4])
def test_killed_between_a_temporary_file_and_its_rename_leaves_no_temporary_file(sample_repo, nth):
    first = faults.run(sample_repo, f"agentos.files:os.replace:before:{nth}")
    assert first.fired and _temporaries(sample_repo)
    _finishes(sample_repo)
    assert _temporaries(sample_repo) == []


@pytest.mark.parametrize("fault, setup_command", [
    ("agentos.workflows.implementation.venvs:VenvMaker._uv:after:1", None),  # the venv made, nothing installed
    ("agentos.workflows.implementation.environment:TestEnvironment._run:after:1",
     "mkdir -p vendor/lib && echo dep > vendor/lib/dep.txt && echo built > BUILD-STAMP"),
])
def test_killed_while_the_test_environment_is_set_up_nothing_it_made_reaches_the_branch(sample_repo, fault, setup_command):
    if setup_command:
        edit_config(sample_repo, stages={"implementation": {"setup_command": setup_command}})
    first = faults.run(sample_repo, fault)
    assert first.fired
    _finishes(sample_repo)
    on_branch = _branch_files(sample_repo)
    assert not {f for f in on_branch if f.startswith((".venv/", "vendor/")) or f == "BUILD-STAMP"}, on_branch
    commits = git(sample_repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert not any(c.startswith("wip") for c in commits), commits


def _scripted_digests(repo: Path) -> list[str]:
    return [json.loads(line)["digest"] for path in (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
            for line in path.read_text().splitlines()]


def test_a_journal_record_torn_by_a_kill_is_skipped_and_the_next_one_starts_a_line_of_its_own(sample_repo):
    first = faults.run(sample_repo, "agentos.llm.journal:append_line:before:3:torn")
    assert first.fired
    [journal] = (sample_repo / ".agentos" / "runs").glob("*/calls.jsonl")
    torn = journal.read_text().splitlines()[-1]
    finished = _scripted_digests(sample_repo)[:2]

    _finishes(sample_repo)
    lines = journal.read_text().splitlines()
    assert lines[2] == torn  # left where it was, on a line of its own
    assert all(json.loads(line) for i, line in enumerate(lines) if i != 2)
    digests = _scripted_digests(sample_repo)
    assert all(digests.count(d) == 1 for d in finished)  # finished calls were not paid again
    assert len(digests) == len(set(digests)) + 1  # only the call whose record was torn was made again


def test_killed_inside_git_add_the_lock_git_left_is_removed_under_the_issue_lock(sample_repo):
    """The process tree killed while `git add` holds the worktree's index.lock (a clean filter
    runs under it): git itself would refuse every later command, advising to delete the lock."""
    env = faults.git_filter_fault(sample_repo, "docs/agentos/issue-1/brief.md", "KILL", when="clean")
    first = faults.run(sample_repo, None, extra_env=env)
    assert first.fired and first.code == -9
    admin = sample_repo / ".git" / "worktrees" / "1"
    assert (admin / "index.lock").exists()
    (sample_repo / ".git" / "info" / "attributes").unlink()

    _finishes(sample_repo)
    assert not (admin / "index.lock").exists()
