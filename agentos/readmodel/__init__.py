"""The read model: runs as every view shows them (the CLI's status, runs and show; the web
dashboard), read from the run records and files without loading the graph engine.

    list_runs(layout)                  every issue's latest run, as RunSummary
    run_detail(layout, issue, cwd)     one run: stages, gate, blocker, decisions, documents, next steps
    where(layout, issue)               the issue's branch, base, worktree, documents and run folder
    document_text / branch_diff / test_report / pr_body    what `agentos show` prints
    as_json(obj)                       any of these as JSON-ready data, every field kept
"""

from __future__ import annotations

from agentos.readmodel.artifacts import (
    Where, branch_diff, document, document_text, documents, pr_body, review_outcome, shown_path, test_report,
    test_summary,
)
from agentos.readmodel.model import (
    Blocker, Decision, Document, GateInfo, Liveness, RunDetail, RunSummary, StageRow, Step, TestSummary, as_json,
    gate_label, stage_label,
)
from agentos.readmodel.overview import latest_record, list_runs, run_detail, where

__all__ = [
    "Blocker", "Decision", "Document", "GateInfo", "Liveness", "RunDetail", "RunSummary", "StageRow", "Step",
    "TestSummary", "Where", "as_json", "branch_diff", "document", "document_text", "documents", "gate_label",
    "latest_record", "list_runs", "pr_body", "review_outcome", "run_detail", "shown_path", "stage_label",
    "test_report", "test_summary", "where",
]

