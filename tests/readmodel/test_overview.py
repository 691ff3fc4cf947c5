"""The read model, on runs the real pipeline made on the sample repository (scripted models)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agentos import readmodel, runs
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.sample import edit_config, edit_script


def _run(repo, **kw):
    return orchestrate(RunOptions(issue=1, repo=repo, plain=True, **kw))


def test_a_run_paused_at_a_gate_lists_every_stage_and_the_gate(sample_repo):
    edit_config(sample_repo, gates={"after_lld": True})
    assert _run(sample_repo).exit_code == 3
    layout = RepoLayout(sample_repo)
    detail = readmodel.run_detail(layout, 1, cwd=sample_repo)
    assert detail.summary.status == "paused" and detail.summary.gate == "after_lld"
    assert detail.summary.title and detail.summary.stage == "lld"
    assert [(r.name, r.status) for r in detail.stages] == [
        ("triage", "PASS"), ("lld", "PASS"), ("spec", "pending"), ("impl", "pending"), ("review", "pending"),
        ("pr", "pending")]
    assert detail.stages[1].label == "LLD" and detail.stages[1].exit_reason == "approved"
    assert detail.stages[1].input_tokens > 0 and detail.stages[1].elapsed_s is not None
    assert detail.gate.label == "after LLD" and detail.gate.document.exists
    assert detail.gate.document.location == ".agentos/worktrees/1/docs/agentos/issue-1/lld.md"
    assert detail.gate.document.review.startswith("Status: APPROVED")
    assert [s.command for s in detail.next_steps][:2] == ["agentos show 1 lld", "agentos approve 1"]
    assert json.loads(json.dumps(readmodel.as_json(detail)))["summary"]["status"] == "paused"


def test_a_done_run_has_its_pr_tests_diff_and_documents(sample_repo):
    assert _run(sample_repo).exit_code == 0
    layout = RepoLayout(sample_repo)
    [summary] = readmodel.list_runs(layout)
    assert summary.status == "done" and summary.stage == "done" and summary.pr_url
    where = readmodel.where(layout, 1)
    assert "Closes #1" in readmodel.pr_body(where)
    assert "textkit/slug.py" in readmodel.branch_diff(where, stat=True)
    assert readmodel.branch_diff(where).startswith("diff --git")
    assert "passed" in readmodel.test_report(where)
    tests = readmodel.run_detail(layout, 1).tests
    assert tests.passed and tests.red_tests and tests.base.startswith("2 passed")
    assert readmodel.document_text(where, "spec").startswith("# ")


def test_a_run_whose_process_died_is_interrupted_not_running(sample_repo):
    edit_config(sample_repo, gates={"after_lld": True})
    _run(sample_repo)
    layout = RepoLayout(sample_repo)
    record = runs.latest(layout, 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record.status, record.gate = "running", None
    record.process = {"pid": dead.pid, "host": os.uname().nodename, "since": "x"}
    runs.save(layout, record)
    detail = readmodel.run_detail(layout, 1, cwd=sample_repo)
    assert detail.summary.status == "interrupted"
    assert detail.next_steps[0].command == "orchestrate --issue 1"
    runs.claim(layout, record)  # this (live) process
    assert readmodel.run_detail(layout, 1).summary.status == "running"


def test_a_blocked_document_stage_names_its_findings_and_the_commands(sample_repo):
    finding = {"id": "F1", "section": "Scope", "severity": "blocking", "text": "the issue asks for two things"}
    edit_script(sample_repo, "reviewer", "triage.review",
                [{"data": {"verdict": "REVISE", "summary": "too big", "findings": [finding]}}] * 5)
    edit_config(sample_repo, stages={"triage": {"max_revisions": 0}})
    result = _run(sample_repo)
    assert result.exit_code == 4
    # The terminal says it too: the open findings and the commands.
    assert "open review findings (1):" in result.message and "the issue asks for two things" in result.message
    assert "--resume-from triage --set stages.triage.max_revisions=N" in result.message
    detail = readmodel.run_detail(RepoLayout(sample_repo), 1, cwd=sample_repo)
    assert detail.summary.status == "blocked" and detail.blocker.stage == "triage"
    assert any("two things" in f for f in detail.blocker.findings)
    commands = [s.command for s in detail.next_steps]
    assert "orchestrate --issue 1 --resume-from triage --set stages.triage.max_revisions=N" in commands


def test_no_run_is_a_usage_error(sample_repo):
    from agentos.errors import UsageError

    with pytest.raises(UsageError, match="no runs"):
        readmodel.run_detail(RepoLayout(sample_repo), 9)
    assert readmodel.list_runs(RepoLayout(sample_repo)) == []


def test_the_read_model_loads_no_graph_engine():
    code = "import sys, agentos.readmodel; print(any(m.startswith('langgraph') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_docs_cli_names_every_json_field():
    import dataclasses
    from pathlib import Path

    from agentos.readmodel import model

    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    classes = [model.RunSummary, model.RunDetail, model.StageRow, model.GateInfo, model.Blocker, model.Step,
               model.Decision, model.Document, model.TestSummary, model.Liveness, model.CodeReview]
    missing = [f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c) if f"`{f.name}`" not in text]
    assert missing == []
