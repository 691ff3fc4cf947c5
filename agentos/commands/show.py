"""`agentos show N [brief|lld|spec|diff|tests|pr]`: what a run produced, whole."""

from __future__ import annotations

from pathlib import Path

from agentos.errors import UsageError
from agentos.paths import RepoLayout, find_repo_root
from agentos import readmodel

VIEWS = {"brief": "the issue brief", "lld": "the low-level design", "spec": "the implementation spec",
         "diff": "the work branch's diff against its base", "tests": "the implementation's test report",
         "pr": "the pull request body"}
DOC_KIND = {"brief": "triage", "lld": "lld", "spec": "spec"}


def show(repo: Path | None, issue: int, what: str | None) -> str:
    """The text of one view of the issue's work; without `what`, the one to look at now."""
    layout = RepoLayout(find_repo_root(repo))
    where = readmodel.where(layout, issue)
    what = what or default_view(layout, issue)
    if what not in VIEWS:
        raise UsageError(f"unknown view {what!r}", f"choose one of: {', '.join(VIEWS)}")
    if what in DOC_KIND:
        return readmodel.document_text(where, DOC_KIND[what])
    if what == "diff":
        return readmodel.branch_diff(where)
    if what == "tests":
        return readmodel.test_report(where)
    return readmodel.pr_body(where)


def default_view(layout: RepoLayout, issue: int) -> str:
    """What a paused run asks to approve, the PR of a finished one, else the brief."""
    record = readmodel.latest_record(layout, issue)
    stage = (record.gate or {}).get("stage") if record.status == "paused" else None
    if stage:
        return {"triage": "brief", "impl": "diff", "review": "diff"}.get(stage, stage)
    return "pr" if record.status == "done" else "brief"
