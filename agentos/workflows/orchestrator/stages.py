"""Each orchestrator stage calls one workflow graph, with explicit input and output mapping.

A workflow graph is invoked from inside the stage node, so its checkpoints nest under the
stage's and a killed run resumes inside the workflow, not at its start. The preflight node runs
the implementation stage's base run before the first stage.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from agentos.errors import ModelCallError
from agentos.llm.retry import ModelCallFailed
from agentos.progress.events import now_iso
from agentos.progress.view import plural
from agentos.workflows.code_review.graph import build_graph as build_review
from agentos.workflows.code_review.report import unresolved
from agentos.workflows.implementation.graph import build_graph as build_impl
from agentos.workflows.implementation.prepare import preflight
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.lld.graph import build_graph as build_lld
from agentos.workflows.orchestrator import decisions
from agentos.workflows.orchestrator.plan import ARTIFACT_FIELD
from agentos.workflows.orchestrator.state import STAGES, OrchestrationState
from agentos.workflows.pr.graph import build_graph as build_pr
from agentos.workflows.review_loop.documents import without_review_log
from agentos.workflows.services import Services
from agentos.workflows.spec.graph import build_graph as build_spec
from agentos.workflows.triage.graph import build_graph as build_triage

BUILDERS = {"triage": build_triage, "lld": build_lld, "spec": build_spec, "impl": build_impl,
            "review": build_review, "pr": build_pr}

StageRunner = Callable[[OrchestrationState, int], dict[str, Any]]


def document_runner(stage: str, services: Services) -> StageRunner:
    graph = BUILDERS[stage](services)

    def run(state: OrchestrationState, attempt: int) -> dict[str, Any]:
        inputs: dict[str, Any] = {"issue_number": state["issue_number"], "attempt": attempt}
        feedback = (state.get("feedback") or {}).get(stage)
        previous = (state.get("stage_results") or {}).get(stage) or {}
        existing = services.workspace.read_doc(stage)
        if feedback and existing:  # a rejected gate: revise the document we have, with the feedback
            history = decisions.rejection_history(state.get("decisions") or [], stage, previous.get("history", []))
            inputs.update(draft=without_review_log(existing[0]), human_feedback=feedback,
                          rounds=previous.get("rounds", 0), revisions=previous.get("revisions", 0),
                          history=history)
        out = graph.invoke(inputs)
        result = {k: out.get(k) for k in ("exit_reason", "message", "rounds", "revisions", "history")}
        return {"verdict": out.get("outcome") or "BLOCK", "result": result,
                "updates": {ARTIFACT_FIELD[stage]: out.get("doc_path")}}

    return run


def impl_runner(services: Services) -> StageRunner:
    graph = build_impl(services)

    def run(state: OrchestrationState, attempt: int) -> dict[str, Any]:
        feedback = (state.get("feedback") or {}).get("impl") or []
        out = graph.invoke({"issue_number": state["issue_number"], "attempt": attempt,
                            "human_feedback": feedback, "notes": state.get("preflight_notes") or []})
        result = {k: out.get(k) for k in ("exit_reason", "message", "commit")}
        return {"verdict": out.get("outcome") or "BLOCK", "result": result,
                "updates": {"test_run": out.get("test_run")}}

    return run


REVIEW_RESULT = ("exit_reason", "message", "commit", "review_round", "history", "kept_tests", "adversarial_log")
"""What the code review's result keeps for `status` and the PR body."""


def review_runner(services: Services) -> StageRunner:
    graph = build_review(services)

    def run(state: OrchestrationState, attempt: int) -> dict[str, Any]:
        feedback = (state.get("feedback") or {}).get("review") or []
        out = graph.invoke({"issue_number": state["issue_number"], "attempt": attempt, "human_feedback": feedback})
        result = {k: out.get(k) for k in REVIEW_RESULT}
        run = out.get("test_run") or {}
        result.update(rounds=out.get("review_round"), verdict_by_reviewer=(out.get("review") or {}).get("verdict"),
                      unresolved=unresolved(out), tests={k: run.get(k) for k in ("passed", "failed", "errors")})
        return {"verdict": out.get("outcome") or "BLOCK", "result": result,
                "updates": {"test_run": out.get("test_run")}}

    return run


def pr_runner(services: Services) -> StageRunner:
    graph = build_pr(services)

    def run(state: OrchestrationState, attempt: int) -> dict[str, Any]:
        results = state.get("stage_results") or {}
        reviews = {k: v for k, v in results.items() if k in ("triage", "lld", "spec")}
        out = graph.invoke({"issue_number": state["issue_number"], "test_run": state.get("test_run"),
                            "reviews": reviews, "decisions": state.get("decisions") or [],
                            "code_review": results.get("review"),
                            "cost_usd": services.models.journal.total_cost()})
        return {"verdict": out.get("outcome") or "BLOCK", "result": {"message": out.get("message")},
                "updates": {"pr_url": out.get("pr_url")}}

    return run


def preflight_node(services: Services):
    """Before triage, when the implementation stage will run: the suite at the base commit must
    really run the tests, so a project whose tests cannot run stops (exit 2) before any model is
    paid for. The stage's baseline reuses this run."""

    def node(state: OrchestrationState) -> dict[str, Any]:
        if (state.get("plan") or {}).get("impl", {}).get("action") != "run":
            return {}
        notes, base = preflight(StageWorktree(services), state["issue_number"])
        return {"base_run": base.summary(), "preflight_notes": notes}

    return node


def stage_node(stage: str, runner: StageRunner, services: Services):
    """Wrap a runner: attempts, timing, events, and PASS | BLOCK | RETRY from measured results."""
    limit = services.config.max_stage_attempts

    def node(state: OrchestrationState) -> dict[str, Any]:
        plan = (state.get("plan") or {}).get(stage, {})
        if plan.get("action") == "skip":
            services.progress.emit("stage_skipped", stage=stage, message=plan.get("reason", ""))
            updates = {ARTIFACT_FIELD[stage]: plan.get("artifact")} if stage in ARTIFACT_FIELD else {}
            return {**updates, "current_stage": stage, "last_verdict": "PASS"}
        attempt = (state.get("stage_attempts") or {}).get(stage, 0) + 1
        services.progress.emit("stage_started", stage=stage, attempt=attempt)
        started, started_at = time.monotonic(), now_iso()
        try:
            outcome = runner(state, attempt)
        except ModelCallFailed:
            # The provider's retry layer already gave up: re-running the stage would multiply
            # retries. Stop with the checkpoint kept; the same command continues later.
            raise
        except ModelCallError as exc:  # an answer we could not use: another attempt may do better
            outcome = {"verdict": "RETRY", "result": {"exit_reason": "model_error", "message": str(exc)}}
        if outcome["verdict"] == "PASS" and services.config.state.url:
            services.forge.push_branch(services.workspace.branch)  # shared state: another machine may continue
        update = _record(state, stage, attempt, outcome, limit, services, time.monotonic() - started)
        return {**update, "stage_started_at": started_at}

    return node


def _record(state, stage, attempt, outcome, limit, services, elapsed) -> dict[str, Any]:
    """The stage's entries in the run's maps; the stage's waiting feedback is used up."""
    verdict, result = outcome["verdict"], {k: v for k, v in outcome["result"].items() if v is not None}
    retries = (state.get("retries") or {}).get(stage, 0) + 1 if verdict == "RETRY" else 0
    if verdict == "RETRY" and retries >= limit:
        verdict = "BLOCK"
        result["message"] = f"gave up after {plural(retries, 'attempt')}: {result.get('message', '')}"
    result.update(verdict=verdict, elapsed_s=round(elapsed, 3), attempt=attempt,
                  cost_usd=round(services.models.budget.spent(stage), 6))
    services.progress.emit("stage_finished", stage=stage, verdict=verdict, attempt=attempt,
                           message=result.get("message", ""), data={"exit_reason": result.get("exit_reason")})
    update = {**outcome.get("updates", {}), "current_stage": stage, "stage_attempts": {stage: attempt},
              "stage_errors": {stage: [result.get("message", verdict)]} if verdict != "PASS" else {},
              "retries": {stage: retries}, "last_verdict": verdict, "stage_results": {stage: result},
              "feedback": {stage: None}}
    if verdict == "BLOCK":
        update.update(status="blocked", blocker=f"{stage}: {result.get('message', '')}", completed_at=now_iso())
    return update


def runners(services: Services) -> dict[str, StageRunner]:
    out: dict[str, StageRunner] = {s: document_runner(s, services) for s in ("triage", "lld", "spec")}
    out["impl"] = impl_runner(services)
    out["review"] = review_runner(services)
    out["pr"] = pr_runner(services)
    assert set(out) == set(STAGES)
    return out
