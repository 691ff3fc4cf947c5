"""Work in the worktree survives a crash: a killed run resumes on it, a new run keeps it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.repos import git
from tests.workflows.impl_repo import (
    BUGGY_LINE, FINISH, RED_TESTS, WRITE_RED_TESTS, make_target, replace, report, script, worktree,
)

pytestmark = pytest.mark.slow  # real processes end to end: make test, not make test-fast

FIXED = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))"


def _calls(repo: Path) -> list[dict]:
    logs = sorted((repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines()]


def _wait_for(repo: Path, purpose: str, turn: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(c["purpose"] == purpose and c["turn"] == turn for c in _calls(repo)):
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run never reached {purpose} turn {turn}")


def test_killed_mid_implementation_resumes_on_the_uncommitted_work(tmp_path):
    repo = make_target(tmp_path / "repo")
    slow_finish = {**FINISH, "delay_s": 30}
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), slow_finish])
    cmd = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(repo), "--plain"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(repo, "impl.green", 1, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "raise ValueError" in (worktree(repo) / "calc" / "ops.py").read_text()
    assert git(worktree(repo), "status", "--porcelain").strip() == "M calc/ops.py"  # uncommitted at the kill

    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "raise ValueError" in git(repo, "show", "agentos/issue-1:calc/ops.py")
    green = [c["turn"] for c in _calls(repo) if c["purpose"] == "impl.green"]
    assert green == [0, 1, 1]  # only the call in flight at the kill was made again


def test_a_new_run_keeps_what_a_failed_run_left_uncommitted(tmp_path):
    repo = make_target(tmp_path / "repo")
    script(repo, red=[WRITE_RED_TESTS, {"error": "the provider is down"}])
    failed = orchestrate(RunOptions(issue=1, repo=repo, plain=True, flags={"max_stage_attempts": 1}))
    assert failed.exit_code == 4 and "the provider is down" in failed.message
    assert git(worktree(repo), "status", "--porcelain").strip() == "M tests/test_ops.py"

    script(repo, red=[FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])
    result = orchestrate(RunOptions(issue=1, repo=repo, plain=True, resume_from="impl"))

    assert result.exit_code == 0, result.message
    log = git(repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert log[-1] == "wip: keep uncommitted work of an interrupted run (#1)"
    assert git(repo, "show", "agentos/issue-1~2:tests/test_ops.py") == RED_TESTS
    assert any("kept uncommitted work of an interrupted run: tests/test_ops.py" in n for n in report(repo)["notes"])
    assert report(repo)["red_tests"] == ["tests/test_ops.py::test_clamp_high",
                                         "tests/test_ops.py::test_clamp_rejects_swapped_bounds"]
