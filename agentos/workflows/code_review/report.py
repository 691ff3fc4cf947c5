"""The code review's record in the run folder (`review/report.json`, `review/report.md`) and its
end: the verdict, why the loop ended, the rounds, the kept adversarial tests and the findings
left open. The PR body and `status` read it from the stage result; people read the Markdown.
"""

from __future__ import annotations

import json
from typing import Any

from agentos.files import write_atomic
from agentos.progress.view import plural
from agentos.redact import redact
from agentos.workflows.code_review.prompts import render_findings
from agentos.workflows.code_review.state import ReviewState
from agentos.workflows.implementation.worktree import StageWorktree


def unresolved(state: ReviewState) -> list[dict[str, Any]]:
    """Findings still open: of the last verdict, the minor ones when approved, else all, plus
    what the loop was left to fix."""
    review = state.get("review") or {}
    findings = review.get("findings") or []
    if review.get("verdict") == "APPROVED":
        findings = [f for f in findings if f.get("severity") == "minor"]
    extra = [f for f in state.get("open_findings") or [] if f["id"] not in {x["id"] for x in findings}]
    return [{k: v for k, v in f.items() if k != "output"} for f in [*findings, *extra]]


def close(wt: StageWorktree, state: ReviewState, outcome: str, reason: str, message: str,
          commits: dict[str, str] | None = None) -> ReviewState:
    """End the stage: write the record, and say how it ended."""
    review = state.get("review") or {}
    record = {"issue": state["issue_number"], "outcome": outcome, "exit_reason": reason, "message": message,
              "verdict": review.get("verdict") or "UNREVIEWED", "summary": review.get("summary", ""),
              "rounds": state.get("review_round", 0), "reviewer": wt.services.config.stages.review.reviewer,
              "kept_tests": state.get("kept_tests") or [], "adversarial": state.get("adversarial_log") or [], "unresolved": unresolved(state),
              "history": state.get("history") or [], "commits": commits or {}, "head": wt.git.head(),
              "test_run": {k: v for k, v in (state.get("test_run") or {}).items() if k != "output"}}
    wt.folder.mkdir(parents=True, exist_ok=True)
    # Whole files at once: `status` and the dashboard read them while the run goes on.
    write_atomic(wt.folder / "report.json", redact(json.dumps(record, indent=2, default=str)) + "\n")
    write_atomic(wt.folder / "report.md", redact(markdown(record)))
    wt.services.progress.emit("artifact_written", stage="review", data={"path": str(wt.folder / "report.md")})
    return {"outcome": outcome, "exit_reason": reason, "message": message}


def markdown(record: dict[str, Any]) -> str:
    lines = [f"# Code review: issue #{record['issue']}", "",
             f"Verdict: **{record['verdict']}** after {plural(record['rounds'], 'round')} by {record['reviewer']} "
             f"({record['exit_reason']}): {record['message']}", ""]
    for h in record["history"]:
        lines.append(f"- Round {h['round']}: {h['verdict']}: {h['summary']}")
        lines += [f"  - adversarial test {t['path']}: {t['status']} ({t['reason']})"
                  for t in record["adversarial"] if t["round"] == h["round"]]
    if record["kept_tests"]:
        lines += ["", "## Kept adversarial tests", ""]
        lines += [f"- {t['path']} (round {t['round']})" for t in record["kept_tests"]]
    if record["unresolved"]:
        lines += ["", "## Unresolved findings", "", render_findings(record["unresolved"])]
    return "\n".join(lines) + "\n"
