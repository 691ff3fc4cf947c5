"""Deciding a gate from the dashboard: recorded as `agentos approve|reject` records it, refused
when the gate is no longer pending, then continued by `agentos poll` or by the server itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentos import runs
from agentos.commands.gates import poll, record_decision
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.sample import edit_config
from tests.web.conftest import client_for


def _decide(client, dash, gate: str, action: str, feedback: str = ""):
    return client.post("/issues/1/gate", data={"csrf": dash.guard.csrf, "gate": gate, "action": action,
                                               "feedback": feedback})


def _decision(repo: Path) -> dict:
    layout = RepoLayout(repo)
    return json.loads(runs.decision_path(layout, runs.latest(layout, 1)).read_text())


def test_a_rejection_is_recorded_as_the_cli_records_it_and_poll_continues_the_run(paused_repo: Path, tmp_path: Path):
    client, dash = client_for(paused_repo)

    answer = _decide(client, dash, "after_lld", "reject", "  name the regex in Interfaces  ")
    assert answer.status_code == 303 and answer.headers["location"].endswith("/issues/1")
    from_page = _decision(paused_repo)
    runs.decision_path(RepoLayout(paused_repo), runs.latest(RepoLayout(paused_repo), 1)).unlink()
    record_decision(RunOptions(issue=1, repo=paused_repo), "reject", "name the regex in Interfaces")
    assert from_page == _decision(paused_repo)
    assert "Decided (reject)" in client.get("/issues/1").text and "<form class=\"gate\"" not in client.get("/issues/1").text

    result = poll(paused_repo)
    assert "#1: paused at gate after LLD" in result.message  # the LLD was revised, and is back at its gate
    events = (paused_repo / ".agentos" / "runs").glob("*/events.jsonl")
    decided = [json.loads(line) for path in events for line in path.read_text().splitlines()
               if '"gate_decided"' in line]
    assert decided[-1]["verdict"] == "reject" and decided[-1]["message"] == "name the regex in Interfaces"


def test_a_decision_for_a_gate_no_longer_pending_is_refused_with_the_reason(paused_repo: Path):
    client, dash = client_for(paused_repo)

    stale = _decide(client, dash, "before_pr", "approve")
    assert stale.status_code == 409
    assert "gate before_pr of issue #1 is no longer pending: now waiting at gate after_lld" in stale.text
    assert not runs.decision_path(RepoLayout(paused_repo), runs.latest(RepoLayout(paused_repo), 1)).exists()

    assert _decide(client, dash, "after_lld", "approve").status_code == 303
    twice = _decide(client, dash, "after_lld", "reject", "too late")
    assert twice.status_code == 409 and "already decided (approve)" in twice.text
    assert _decision(paused_repo)["action"] == "approve"


def test_a_rejection_without_feedback_is_refused(paused_repo: Path):
    client, dash = client_for(paused_repo)

    answer = _decide(client, dash, "after_lld", "reject", "   ")
    assert answer.status_code == 409 and "reject needs feedback" in answer.text
    assert _decide(client, dash, "after_lld", "shrug").status_code == 409


@pytest.mark.slow  # seconds of whole-pipeline work
def test_the_server_continues_the_run_itself_when_configured(paused_repo: Path):
    edit_config(paused_repo, dashboard={"continue_runs": "server"})
    client, dash = client_for(paused_repo)

    assert _decide(client, dash, "after_lld", "approve").status_code == 303
    job = dash.continuations.get(1)
    assert job is not None
    assert "The dashboard is continuing this run" in client.get("/issues/1").text or not job.running
    deadline = time.monotonic() + 240
    while job.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.process.exit_code() == 3, job.process.log.read_text()  # paused again, at the next gate
    record = runs.latest(RepoLayout(paused_repo), 1)
    assert record.status == "paused" and record.gate["gate"] == "before_pr"
    assert "exit 3: paused" in client.get("/issues/1").text
    assert dash.continuations.end_all() == []
