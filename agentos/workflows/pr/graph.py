"""The PR step: push the work branch and find-or-create its pull request (idempotent).

A killed run re-runs this node from its start: the push is then a no-op, and the PR from the
first attempt is found by its head branch instead of being opened again. On a later run
(`--resume-from`) the existing PR's body is brought up to date; its draft/ready state is left
as people set it. The verdict is measured: the forge must list the PR afterwards.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from agentos.files import read_json, read_jsonl, write_atomic
from agentos.markdown.escape import code
from agentos.markdown.parse import sections
from agentos.redact import redact
from agentos.workflows.pr.body import PRFacts, build_body, find_template
from agentos.workflows.services import Services

DOC_NAMES = {"triage": "Issue brief", "lld": "Low-level design", "spec": "Implementation spec"}


class PRState(TypedDict, total=False):
    issue_number: int
    test_run: dict[str, Any] | None
    reviews: dict[str, dict[str, Any]]
    """Stage → {exit_reason, rounds, models, message} of the design stages."""
    code_review: dict[str, Any] | None
    """The code review stage's result: rounds, verdicts, kept adversarial tests, unresolved findings."""
    cost_usd: float
    decisions: list[dict[str, Any]]
    """People's gate decisions (orchestrator/decisions.py)."""
    pr_url: str | None
    pr_number: int | None
    outcome: Literal["PASS", "BLOCK"] | None
    message: str


def gather_facts(services: Services, state: PRState) -> PRFacts:
    """What the body says, from the branch, the run folder and the stage results."""
    ws = services.workspace
    spec, lld = ws.read_doc("spec"), ws.read_doc("lld")
    docs = [(DOC_NAMES[kind], ws.doc_path(kind), services.forge.blob_url(ws.branch, ws.doc_path(kind)))
            for kind in DOC_NAMES if ws.read_doc(kind) is not None]
    return PRFacts(
        issue=state["issue_number"], branch=ws.branch,
        what=sections(spec[0]).get("overview", "") if spec else "",
        why=sections(lld[0]).get("context and goal", "") if lld else "",
        changed=ws.git.changed_files(ws.base, "HEAD"), report=read_json(services.run_dir / "impl" / "test-report.json"),
        test_run=state.get("test_run"), docs=docs, reviews=state.get("reviews") or {},
        decisions=state.get("decisions") or [],
        code_review=state.get("code_review"),
        models=_models(services), worktree=str(ws.path), sandbox=services.config.sandbox.backend)


def _models(services: Services) -> list[tuple[str, str, int, float]]:
    """(stage, model ids, calls, cost) for each stage that called a model in this run."""
    stages = services.config.stages
    ids = {"triage": [stages.triage.drafter, stages.triage.reviewer], "lld": [stages.lld.drafter, stages.lld.reviewer],
           "spec": [stages.spec.drafter, stages.spec.reviewer], "impl": [stages.implementation.implementer],
           "review": [stages.review.reviewer, stages.implementation.implementer]}
    usage: dict[str, list[float]] = {}
    for record in read_jsonl(services.run_dir / "calls.jsonl"):
        stage = str(record.get("purpose") or "").split(".")[0]
        if stage in ids:
            calls_cost = usage.setdefault(stage, [0, 0.0])
            calls_cost[0] += 1
            calls_cost[1] += float((record.get("response") or {}).get("cost_usd") or 0.0)
    return [(stage, ", ".join(code(m) for m in dict.fromkeys(ids[stage])), int(n), cost)
            for stage, (n, cost) in usage.items()]




def build_body_for(services: Services, state: PRState) -> str:
    return redact(build_body(gather_facts(services, state), find_template(services.workspace.ensure())))


def pr_title(title: str, number: int) -> str:
    """The issue's title on one line, with its number, within GitHub's length limit."""
    line = " ".join(redact(title).split())
    return f"{line[:200]} (#{number})"


def build_graph(services: Services, checkpointer=None):
    def open_pr(state: PRState) -> PRState:
        forge, ws = services.forge, services.workspace
        issue = forge.get_issue(state["issue_number"])
        forge.push_branch(ws.branch)
        body = redact(build_body_for(services, state))
        write_atomic(services.run_dir / "pr" / "body.md", body)  # what `agentos show N pr` prints
        pr = forge.find_or_create_pr(head=ws.branch, base=ws.base, title=pr_title(issue.title, issue.number),
                                     body=body, draft=services.config.pr_draft)
        if pr.body.strip() != body.strip():  # an earlier run's PR: bring its body up to date
            pr = forge.update_pr(pr.number, body=body)
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
