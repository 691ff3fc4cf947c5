"""A damaged checkpoint database: named by `status` and `orchestrate`, moved aside by `agentos repair`,
after which the run starts again from what is already on the issue's branch."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from agentos import runs
from agentos.cli.main import app
from agentos.cli.orchestrate import app as orchestrate_app
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.sample import edit_config


def _overwrite_header(db):
    with db.open("r+b") as handle:
        handle.write(b"this is not SQLite" * 6)


def _truncate(db):
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _paused_at_spec(repo):
    edit_config(repo, gates={"after_lld": True, "after_spec": True})
    assert orchestrate(RunOptions(issue=1, repo=repo, plain=True), stream=io.StringIO()).exit_code == 3
    CliRunner().invoke(app, ["approve", "1", "--repo", str(repo)])  # after_lld: approved by a human
    assert orchestrate(RunOptions(issue=1, repo=repo, plain=True), stream=io.StringIO()).exit_code == 3


def _empty(db):
    db.write_bytes(b"")  # an empty file is a valid, empty SQLite database: the checkpoints are simply gone


@pytest.mark.slow  # seconds of whole-pipeline work
@pytest.mark.parametrize("damage", [_overwrite_header, _truncate, _empty])
def test_a_damaged_state_db_is_named_and_repair_lets_the_run_continue(sample_repo, damage):
    _paused_at_spec(sample_repo)
    layout = RepoLayout(sample_repo)
    damage(layout.state_db)

    status = CliRunner().invoke(app, ["status", "1", "--repo", str(sample_repo)])
    if damage is not _empty:  # an empty database reads fine: status shows the record, with no stages
        assert status.exit_code == 2, status.output
        assert f"the checkpoint database {layout.state_db} is damaged" in status.output
        assert "agentos repair" in status.output
    run = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(sample_repo), "--plain"])
    assert run.exit_code == 2 and str(layout.state_db) in run.output and "agentos repair" in run.output, run.output

    repaired = CliRunner().invoke(app, ["repair", "--repo", str(sample_repo)])
    assert repaired.exit_code == 0, repaired.output
    assert "#1: run orchestrate-1-" in repaired.output and "reset; continue with: orchestrate --issue 1" in repaired.output
    if damage is not _empty:
        assert "moved it to" in repaired.output
        assert list(layout.agentos_dir.glob("state.db.damaged-*")) and not layout.state_db.exists()
    first = runs.latest(layout, 1)
    assert first.status == runs.RESET

    again = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    assert again.exit_code == 3, again.message  # the reused spec still waits for the human it was waiting for
    second = runs.latest(layout, 1)
    assert second.gate["gate"] == "after_spec"
    CliRunner().invoke(app, ["approve", "1", "--repo", str(sample_repo)])
    done = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    assert done.exit_code == 0, done.message  # the approved documents on the branch stood in for their stages
    assert second.run_id != first.run_id
    calls = (layout.run_dir(second.run_id) / "scripted-calls.jsonl").read_text().splitlines()
    purposes = {json.loads(line)["purpose"].split(".")[0] for line in calls}
    assert purposes.isdisjoint({"triage", "lld", "spec"}), purposes


def test_repair_leaves_a_sound_database_alone(sample_repo):
    _paused_at_spec(sample_repo)
    result = CliRunner().invoke(app, ["repair", "--repo", str(sample_repo)])
    assert result.exit_code == 0 and "nothing to repair" in result.output
    assert RepoLayout(sample_repo).state_db.exists() and runs.latest(RepoLayout(sample_repo), 1).status == "paused"


def test_repair_is_refused_while_a_run_of_the_issue_goes_on(sample_repo):
    from agentos import runlock

    _paused_at_spec(sample_repo)
    layout = RepoLayout(sample_repo)
    _overwrite_header(layout.state_db)
    with runlock.issue_lock(layout, 1, "orchestrate --issue 1"):  # a run of issue 1, alive
        result = CliRunner().invoke(app, ["repair", "--repo", str(sample_repo)])
    assert result.exit_code == 2 and "orchestrate --issue 1" in result.output, result.output
    assert layout.state_db.exists() and runs.latest(layout, 1).status == "paused"
