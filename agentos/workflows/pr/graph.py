"""The PR step: push the work branch and find-or-create its pull request (idempotent)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from agentos.workflows.review_loop.kinds import sections
from agentos.workflows.services import Services


class PRState(TypedDict, total=False):
    issue_number: int
    test_run: dict[str, Any] | None
    reviews: dict[str, dict[str, Any]]
    """Stage → {exit_reason, rounds, models, message} of the design stages."""
    cost_usd: float
    pr_url: str | None
    pr_number: int | None
    outcome: Literal["PASS", "BLOCK"] | None
    message: str


def build_body(services: Services, state: PRState) -> str:
    ws = services.workspace
    issue = state["issue_number"]
    spec = ws.read_doc("spec")
    overview = sections(spec[0]).get("overview", "") if spec else ""
    changed = ws.git.changed_files(ws.base, "HEAD")
    run = state.get("test_run") or {}
    lines = ["## What and why", overview or "See the design documents below.", "", "## Files changed"]
    lines += [f"- `{path}`" for path in changed] or ["- (none)"]
    lines += ["", "## How it was tested"]
    if run:
        lines.append(f"- `{run.get('command', '')}`: {run.get('passed', 0)} passed, "
                     f"{run.get('failed', 0)} failed, {run.get('errors', 0)} errors")
    lines += ["", "## Design documents"]
    for kind in ("triage", "lld", "spec"):
        lines.append(f"- {kind}: `{ws.doc_path(kind)}` on `{ws.branch}`")
    lines += ["", "## Reviews"]
    for stage, info in (state.get("reviews") or {}).items():
        lines.append(f"- {stage}: {info.get('message', '')}")
    lines += ["", f"Model cost for this run: ${state.get('cost_usd', 0.0):.4f}", "", f"Closes #{issue}"]
    return "\n".join(lines) + "\n"


def _escape_title(title: str) -> str:
    return " ".join(title.split())[:200]


def build_graph(services: Services, checkpointer=None):
    def open_pr(state: PRState) -> PRState:
        forge, ws = services.forge, services.workspace
        issue = forge.get_issue(state["issue_number"])
        forge.push_branch(ws.branch)
        pr = forge.find_or_create_pr(
            head=ws.branch, base=ws.base, title=_escape_title(f"{issue.title} (#{issue.number})"),
            body=build_body(services, state), draft=services.config.pr_draft,
        )
        if forge.find_pr(ws.branch) is None:
            return {"outcome": "BLOCK", "message": f"the forge did not record a PR for {ws.branch}"}
        services.progress.emit("artifact_written", stage="pr", data={"path": pr.url})
        return {"pr_url": pr.url, "pr_number": pr.number, "outcome": "PASS",
                "message": f"PR #{pr.number} {pr.url}"}

    g = StateGraph(PRState)
    g.add_node("open_pr", open_pr)
    g.add_edge(START, "open_pr")
    g.add_edge("open_pr", END)
    return g.compile(checkpointer=checkpointer, name="pr_workflow")
