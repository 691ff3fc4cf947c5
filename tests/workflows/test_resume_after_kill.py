"""SIGKILL a real orchestrate process in the middle of the LLD stage, run it again, and check
that it finishes without repeating any model call that had finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.sample import edit_script, script_replies

pytestmark = pytest.mark.slow  # real processes end to end: make test, not make test-fast


def _scripted_calls(repo: Path) -> list[dict]:
    [log] = (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def _journal_digests(repo: Path) -> set[str]:
    [journal] = (repo / ".agentos" / "runs").glob("*/calls.jsonl")
    return {json.loads(line)["response"]["request_id"].removeprefix("scripted-")
            for line in journal.read_text().splitlines() if line.strip()}


def _orchestrate(repo: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(repo), "--plain"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_mid_lld_resumes_without_repeating_finished_calls(sample_repo):
    # The second LLD review takes a while, so the kill lands inside the LLD stage.
    reviews = script_replies(sample_repo, "reviewer", "lld.review")
    edit_script(sample_repo, "reviewer", "lld.review", [reviews[0], {**reviews[1], "delay_s": 30}])
    proc = _orchestrate(sample_repo)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = list((sample_repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
        if runs and any(c["purpose"] == "lld.review" and c["turn"] == 1 for c in _scripted_calls(sample_repo)):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("the run never reached the second LLD review")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before_kill = _journal_digests(sample_repo)
    assert {c["purpose"] for c in _scripted_calls(sample_repo)} >= {"triage.draft", "lld.draft", "lld.revise"}

    edit_script(sample_repo, "reviewer", "lld.review", reviews)  # no delay on the second run
    second = _orchestrate(sample_repo)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    assert "resumed" in out

    calls = _scripted_calls(sample_repo)
    digests = [c["digest"] for c in calls]
    repeated = {d for d in digests if digests.count(d) > 1}
    assert not (repeated & finished_before_kill), "a finished model call was paid for again"
    # Only the call that was in flight at the kill was made again.
    assert [c["purpose"] for c in calls if c["digest"] in repeated] == ["lld.review", "lld.review"]
    assert list((sample_repo / ".agentos" / "pulls").glob("*.md"))
