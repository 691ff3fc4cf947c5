"""A batch of ten issues on the demo repository, on scripted models, in the local pool of worker
processes: one issue waits at a gate, one blocks, one goes over its budget, and the batch process
is SIGKILLed mid-way; the same command then finishes it without paying a finished call twice."""

from __future__ import annotations

import pytest

import os
import signal
import subprocess
import time
from pathlib import Path

from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.batch import (
    add_case, add_issues, batch_cmd, batch_json, demo_titles, journal_digests, pull_heads, run_batch,
    scripted_calls, statuses,
)
from tests.helpers.sample import edit_script, script_replies

BLOCKED, COSTLY = "CANNOT-BE-DONE", "COSTLY-ONE"

pytestmark = pytest.mark.slow  # many agentos processes: not in make test-fast


def _workers_of(batch_id: str) -> list[int]:
    """Pids of live worker processes of the batch."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agentos.batch.worker" in cmd and batch_id.encode() in cmd:
            found.append(int(proc.name))
    return found


def _wait_for(condition, what: str, within_s: float = 120) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _ten_issues(repo: Path) -> dict[str, int]:
    numbers = add_issues(repo, demo_titles(6) + [f"{BLOCKED}: rewrite everything", f"{COSTLY}: slugify costs",
                                                 "slugify: paused at a gate"])
    add_case(repo, "drafter", BLOCKED, {"triage.draft": [{"error": "the model cannot answer this"}]})
    add_case(repo, "reviewer", COSTLY, {"triage.review": [{**script_replies(repo, "reviewer", "triage.review")[0],
                                                           "cost_usd": 1.0}]})
    # The second LLD review takes a while, so the kill lands while issues are mid-stage.
    reviews = script_replies(repo, "reviewer", "lld.review")
    edit_script(repo, "reviewer", "lld.review", [reviews[0], {**reviews[1], "delay_s": 2}])
    return {"blocked": numbers[-3], "costly": numbers[-2], "gated": numbers[-1], "all": [1, *numbers]}


def test_ten_issues_gate_block_budget_and_resume_after_sigkill(sample_repo):
    repo = sample_repo
    n = _ten_issues(repo)
    # One issue is already waiting at a gate (someone ran it with the gate on): it must not hold up the rest.
    paused = orchestrate(RunOptions(issue=n["gated"], repo=repo, flags={"gates.after_triage": True}))
    assert paused.status == "paused"

    args = ("--workers", "4", "--set", "budget_usd=0.5")
    batch = subprocess.Popen(batch_cmd(repo, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (repo / ".agentos" / "batches").exists()
              and sum(s == "done" for s in statuses(repo).values()) >= 2, "two issues done")
    batch_id = batch_json(repo)["batch_id"]
    assert _workers_of(batch_id), "workers were running when the batch was killed"
    finished_before_kill = {i: journal_digests(repo, i) for i in n["all"]}
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait()
    _wait_for(lambda: not _workers_of(batch_id), "the killed batch's workers to end", 30)

    edit_script(repo, "reviewer", "lld.review", script_replies(repo, "reviewer", "lld.review")[:1]
                + [{k: v for k, v in script_replies(repo, "reviewer", "lld.review")[1].items() if k != "delay_s"}])
    again = run_batch(repo, *args)
    assert again.returncode == 5, again.stdout + again.stderr  # the worst issue: over its budget
    info = batch_json(repo)
    assert info["batch_id"] == batch_id, "the same command continued the same batch"
    got = {row["issue"]: row["status"] for row in info["issues"]}
    assert got.pop(n["gated"]) == "paused"
    assert got.pop(n["blocked"]) == "blocked"
    assert got.pop(n["costly"]) == "budget"
    assert set(got.values()) == {"done"} and len(got) == 7, info["issues"]
    assert "paused at a gate: #" in again.stdout

    heads = pull_heads(repo)
    assert sorted(heads) == sorted(f"agentos/issue-{i}" for i in got), "one PR per finished issue"
    for issue in n["all"]:
        digests = [c["digest"] for c in scripted_calls(repo, issue)]
        repeated = {d for d in digests if digests.count(d) > 1}
        assert not (repeated & finished_before_kill[issue]), f"#{issue}: a finished model call was paid again"

    # Decide the gate and raise the cap: the same command takes both the rest of the way.
    from agentos.commands.gates import record_decision

    record_decision(RunOptions(issue=n["gated"], repo=repo), "approve", None)
    last = run_batch(repo, "--workers", "4", "--set", "budget_usd=5")
    assert last.returncode == 4, last.stdout + last.stderr  # the blocked issue stays blocked
    final = statuses(repo)
    assert final[n["gated"]] == final[n["costly"]] == "done"
    assert sorted(pull_heads(repo)) == sorted(f"agentos/issue-{i}" for i in n["all"] if i != n["blocked"])
