"""The read model on runs with a code review stage (the real pipeline, scripted models)."""

from __future__ import annotations

import json

from agentos import readmodel
from agentos.commands.status import render_status
from agentos.paths import RepoLayout
from agentos.readmodel import advice
from agentos.readmodel.artifacts import Where
from agentos.readmodel.artifacts import test_summary as summary_of
from agentos.readmodel.model import STAGE_LABELS
from agentos.workflows.orchestrator.config import GATES, SECTIONS
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from agentos.workflows.orchestrator.state import STAGES
from tests.workflows.impl_repo import FINISH
from tests.workflows.review_repo import docstring_fix, finding, fixes, reviewer, target, verdict


def _run(repo):
    return orchestrate(RunOptions(issue=1, repo=repo, plain=True))


def test_the_read_models_stage_tables_match_the_orchestrators():
    # The read model may not import the orchestrator (it sits below it): its tables are kept equal here.
    assert advice.RESUMABLE == STAGES
    assert set(advice.LIMITS) == set(SECTIONS) and set(STAGE_LABELS) == set(STAGES)
    assert {g: readmodel.gate_label(g) for g in GATES}["after_review"] == "after code review"


def test_a_run_blocked_in_the_code_review_shows_why_and_how_to_go_on(tmp_path):
    repo = target(tmp_path / "repo", review={"max_rounds": 1})
    reviewer(repo, verdict("REVISE", "Undocumented.", [finding("F1", "Document the ValueError.")]))
    fixes(repo, docstring_fix(), FINISH)
    assert _run(repo).exit_code == 4

    detail = readmodel.run_detail(RepoLayout(repo), 1, cwd=repo)
    row = next(r for r in detail.stages if r.name == "review")
    assert (row.label, row.status, row.exit_reason) == ("code review", "BLOCK", "max_rounds")
    assert detail.summary.status == "blocked" and detail.summary.stage == "review"
    assert detail.blocker.stage == "review"
    assert detail.blocker.findings == ["F1 (major, calc/ops.py:5-9): Document the ValueError."]
    review = detail.code_review
    assert (review.verdict, review.exit_reason, review.rounds) == ("REVISE", "max_rounds", 1)
    assert review.unresolved == detail.blocker.findings and review.report.endswith("review/report.md")
    assert [s.command for s in detail.next_steps] == [
        "orchestrate --issue 1 --resume-from review",
        "orchestrate --issue 1 --resume-from review --set stages.review.max_rounds=N"]
    shown = render_status(detail)
    assert "BLOCKED in code review" in shown
    assert "Code review: REVISE after 1 round by scripted:.agentos/scripted/reviewer.yaml (max_rounds)" in shown


def test_a_run_paused_after_the_code_review_asks_about_the_diff(tmp_path):
    repo = target(tmp_path / "repo", gates={"after_review": True})
    reviewer(repo, verdict("APPROVED", "Does what the spec asks.", [finding("C1", "Name lo/hi.", "minor")]))
    assert _run(repo).exit_code == 3

    detail = readmodel.run_detail(RepoLayout(repo), 1, cwd=repo)
    assert detail.gate.gate == "after_review" and detail.gate.label == "after code review"
    assert detail.gate.stage == "review" and detail.gate.document is None
    assert [s.command for s in detail.next_steps][:2] == ["agentos show 1 diff", "agentos approve 1"]
    assert detail.code_review.verdict == "APPROVED" and detail.code_review.exit_reason == "approved"
    assert detail.code_review.unresolved == ["C1 (minor, calc/ops.py:5-9): Name lo/hi."]
    assert "Waiting at gate after code review" in render_status(detail)


def test_the_tests_line_is_the_branch_after_the_code_review_and_an_odd_report_leaves_the_implementations(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "impl").mkdir(parents=True)
    (run_dir / "review").mkdir()
    (run_dir / "impl" / "test-report.json").write_text(json.dumps({
        "outcome": "PASS", "baseline": {"summary": "2 passed"}, "final": {"summary": "4 passed", "command": "pytest"},
        "red_tests": ["t::a"]}))
    where = Where(RepoLayout(tmp_path), 1, "agentos/issue-1", "main", tmp_path, {}, run_dir)
    review = run_dir / "review" / "report.json"
    review.write_text(json.dumps({"test_run": {"command": "pytest", "exit_code": 1, "timed_out": False,
                                               "duration_s": 0.2, "passed": 6, "failed": 1, "errors": 0, "skipped": 0,
                                               "failed_tests": ["t::edge"], "counts_known": True}}))
    after = summary_of(where)
    assert after.final == "6 passed, 1 failed, 0 errors in 0.2s after the code review"
    assert after.failing_tests == ["t::edge"] and after.base == "2 passed" and after.red_tests == ["t::a"]
    review.write_text(json.dumps({"test_run": {"passed": 3}}))  # another version's record
    assert summary_of(where).final == "4 passed"
