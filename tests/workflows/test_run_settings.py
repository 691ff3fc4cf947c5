"""A run keeps the settings it started with (--config, --set, flags) when it continues."""

from __future__ import annotations

import io

import pytest
import yaml

from agentos import runs
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.sample import edit_config

GATE_FLAGS = {"gates.after_triage": None, "gates.after_lld": True, "gates.after_spec": None,
              "gates.before_pr": True, "base_branch": None, "github.repo_slug": None}


def _approve(repo):
    from agentos.commands.gates import record_decision

    record_decision(RunOptions(issue=1, repo=repo), "approve", None)


def _gate(repo) -> str | None:
    record = runs.latest(RepoLayout(repo), 1)
    return (record.gate or {}).get("gate")


def test_gate_flags_hold_when_the_run_continues_after_approve(sample_repo):
    first = orchestrate(RunOptions(issue=1, repo=sample_repo, flags=GATE_FLAGS, plain=True), stream=io.StringIO())
    assert first.exit_code == 3 and _gate(sample_repo) == "after_lld"
    _approve(sample_repo)
    second = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    assert second.exit_code == 3, second.message  # the before-PR gate asked for at the start holds
    assert _gate(sample_repo) == "before_pr"
    assert not list((sample_repo / ".agentos" / "pulls").glob("*"))


def test_set_values_hold_and_poll_continues_with_them(sample_repo):
    sets = ["gates.after_lld=true", "gates.before_pr=true"]
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, sets=sets, plain=True), stream=io.StringIO()).exit_code == 3
    _approve(sample_repo)
    from agentos.commands.gates import poll

    result = poll(sample_repo, plain=True, stream=io.StringIO())
    assert "before pull request" in result.message and _gate(sample_repo) == "before_pr"


def test_a_value_given_again_on_continuing_applies_and_is_said(sample_repo):
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, flags=GATE_FLAGS, plain=True), stream=io.StringIO()).exit_code == 3
    _approve(sample_repo)
    out = io.StringIO()
    flags = {**GATE_FLAGS, "gates.after_lld": None, "gates.before_pr": False}
    planned = orchestrate(RunOptions(issue=1, repo=sample_repo, flags=flags, plain=True, dry_run=True))
    assert "note: gates.before_pr=false given now applies (the run started with true)" in planned.message
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, flags=flags, plain=True), stream=out)
    assert result.exit_code == 0, result.message
    assert "gates.before_pr=false given now applies (the run started with true)" in out.getvalue()


def test_the_config_file_a_run_started_with_holds_and_a_change_is_named(sample_repo, tmp_path):
    own = tmp_path / "own.yaml"
    doc = yaml.safe_load((sample_repo / ".agentos" / "config.yaml").read_text())
    doc["orchestrator"]["gates"] = {"after_triage": True, "before_pr": True}
    edit_config(sample_repo, gates={"after_lld": True})  # the default file: not the one the run uses
    own.write_text(yaml.safe_dump(doc))
    first = orchestrate(RunOptions(issue=1, repo=sample_repo, config_file=own, plain=True), stream=io.StringIO())
    assert first.exit_code == 3 and _gate(sample_repo) == "after_triage"
    doc["orchestrator"]["gates"]["after_lld"] = False
    doc["orchestrator"]["stages"]["lld"]["max_revisions"] = 4
    own.write_text(yaml.safe_dump(doc))
    _approve(sample_repo)
    out = io.StringIO()
    second = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=out)
    assert second.exit_code == 3 and _gate(sample_repo) == "before_pr"  # own.yaml, not the default file
    assert f"{own}" in out.getvalue() and "changed" in out.getvalue()


class Died(BaseException):
    """The process dying at the injected point (nothing after it runs, as with SIGKILL)."""


def test_an_approval_survives_a_death_right_after_it_was_read(sample_repo, monkeypatch):
    from agentos.workflows.orchestrator import driver

    edit_config(sample_repo, gates={"after_lld": True})
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO()).exit_code == 3
    _approve(sample_repo)
    real_resume = driver._resume

    def resume_then_die(*args, **kwargs):
        real_resume(*args, **kwargs)
        raise Died()

    monkeypatch.setattr(driver, "_resume", resume_then_die)
    try:
        orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    except Died:
        pass
    monkeypatch.setattr(driver, "_resume", real_resume)
    again = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    assert again.exit_code == 0, again.message  # the approval was not lost: no second pause
    record = runs.latest(RepoLayout(sample_repo), 1)
    assert not runs.decision_path(RepoLayout(sample_repo), record).exists()


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_damaged_decision_file_is_named_and_the_run_waits(sample_repo):
    edit_config(sample_repo, gates={"after_lld": True})
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO()).exit_code == 3
    layout = RepoLayout(sample_repo)
    runs.decision_path(layout, runs.latest(layout, 1)).write_bytes(b"")
    out = io.StringIO()
    again = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=out)
    assert again.exit_code == 3 and "is not a gate decision (empty or damaged)" in out.getvalue()
    _approve(sample_repo)  # deciding again replaces it
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO()).exit_code == 0


def test_a_config_file_gone_since_the_run_started_is_named(sample_repo, tmp_path):
    from agentos.errors import ConfigError

    own = tmp_path / "own.yaml"
    doc = yaml.safe_load((sample_repo / ".agentos" / "config.yaml").read_text())
    doc["orchestrator"]["gates"] = {"after_triage": True}
    own.write_text(yaml.safe_dump(doc))
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, config_file=own, plain=True), stream=io.StringIO()).exit_code == 3
    own.unlink()
    with pytest.raises(ConfigError, match="this run started with \\(--config\\) is gone"):
        orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())


@pytest.mark.slow  # seconds of whole-pipeline work
def test_the_reported_case_resume_from_lld_with_gates_then_approve_then_continue(sample_repo):
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO()).exit_code == 0
    again = RunOptions(issue=1, repo=sample_repo, flags=GATE_FLAGS, resume_from="lld", plain=True)
    assert orchestrate(again, stream=io.StringIO()).exit_code == 3 and _gate(sample_repo) == "after_lld"
    _approve(sample_repo)
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), stream=io.StringIO())
    assert result.exit_code == 3 and _gate(sample_repo) == "before_pr", result.message
