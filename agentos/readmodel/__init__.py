"""The read model: runs as every view shows them (the CLI's status, runs and show; the web
dashboard), read from the run records and files without loading the graph engine.

    list_runs(layout)                  every issue's latest run, as RunSummary
    run_detail(layout, issue, cwd)     one run: stages, gate, blocker, decisions, documents, next steps
    where(layout, issue)               the issue's branch, base, worktree, documents and run folder
    document_text / branch_diff / test_report / pr_body    what `agentos show` prints
    blocker / next_steps               why a run stopped, and the commands that go on from there
    as_json(obj)                       any of these as JSON-ready data, every field kept
"""

from __future__ import annotations

from agentos.readmodel.advice import next_steps, render_blocker, render_steps
from agentos.readmodel.artifacts import (
    Where, branch_diff, code_review, document, document_text, documents, pr_body, review_outcome, shown_path, test_report,
    test_summary,
)
from agentos.readmodel.model import (
    Blocker, CodeReview, Decision, Document, GateInfo, Liveness, RunDetail, RunSummary, StageRow, Step, TestSummary, as_json,
    gate_label, stage_label,
)
from agentos.readmodel.overview import blocker, latest_record, list_runs, run_detail, where

__all__ = [
    "Blocker", "CodeReview", "Decision", "Document", "GateInfo", "Liveness", "RunDetail", "RunSummary", "StageRow", "Step",
    "TestSummary", "Where", "as_json", "blocker", "branch_diff", "code_review", "document", "document_text", "documents",
    "gate_label", "latest_record", "list_runs", "next_steps", "pr_body", "render_blocker", "render_steps",
    "review_outcome", "run_detail", "shown_path", "stage_label", "test_report", "test_summary", "where",
]
