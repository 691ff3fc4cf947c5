"""The orchestrator: a graph whose stages call the workflow graphs, with gates between them.

    start → preflight → triage → [gate] → lld → [gate] → spec → [gate] → impl → review → [gates] → pr → done

preflight runs the tests at the base commit before any model call (when impl will run): a
project whose tests cannot run stops there, with exit 2, not after three design documents.

After each stage: PASS → its gate (or the next stage), RETRY → the same stage again (bounded
in stages.py), BLOCK → end. At a gate: approve → the next gate or stage, reject → back to the
stage whose result it approves, with the feedback for its next revision (before_pr follows the
code review but sends its feedback to the implementation, whose new work is reviewed again).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from agentos.progress.events import now_iso
from agentos.workflows.orchestrator import decisions
from agentos.workflows.orchestrator.config import FOLLOWS, GATE_AFTER, GATES
from agentos.workflows.orchestrator.stages import preflight_node, runners, stage_node
from agentos.workflows.orchestrator.state import STAGES, OrchestrationState
from agentos.workflows.services import Services


def gate_node(gate: str, services: Services):
    stage = GATES[gate]

    def node(state: OrchestrationState) -> dict[str, Any]:
        enabled = getattr(services.config.gates, gate)
        planned = (state.get("plan") or {}).get(FOLLOWS[gate], {})
        skipped = planned.get("action") == "skip" and not planned.get("gate_owed")
        if not enabled or skipped:
            return {"last_verdict": "approve"}
        # Nothing before interrupt() may have side effects: this node re-runs on resume.
        decision = interrupt({"gate": gate, "stage": stage, "issue": state["issue_number"],
                              "artifact": _artifact(state, stage)})
        decision = decision if isinstance(decision, dict) else {}
        record = decisions.entry(gate, stage, decision, state.get("decisions") or [])
        action = record["action"]
        update: dict[str, Any] = {"gate_results": {gate: action}, "decisions": [record],
                                  "last_verdict": "reject" if action == "reject" else "approve"}
        if action == "reject":
            update["feedback"] = {stage: [decision.get("feedback") or "rejected without feedback"]}
        else:
            decisions.note_approval(services, record)
        return update

    return node


def _artifact(state: OrchestrationState, stage: str) -> str | None:
    return {"triage": state.get("issue_brief_path"), "lld": state.get("lld_path"),
            "spec": state.get("spec_path")}.get(stage)


def start(state: OrchestrationState) -> dict[str, Any]:
    return {"status": "running", "current_stage": "triage", "started_at": state.get("started_at") or now_iso()}


def done(state: OrchestrationState) -> dict[str, Any]:
    return {"status": "done", "current_stage": "done", "completed_at": now_iso()}


def _after_stage(stage: str):
    target = f"gate_{GATE_AFTER[stage][0]}" if stage in GATE_AFTER else _next(stage)

    def route(state: OrchestrationState) -> str:
        verdict = state.get("last_verdict")
        if verdict == "PASS":
            return target
        return stage if verdict == "RETRY" else END

    return route, [target, stage, END]


def _after_gate(gate: str):
    stage, follows = GATES[gate], FOLLOWS[gate]
    gates = GATE_AFTER[follows]
    later = gates[gates.index(gate) + 1:]
    target = f"gate_{later[0]}" if later else _next(follows)

    def route(state: OrchestrationState) -> str:
        return stage if state.get("last_verdict") == "reject" else target

    return route, [stage, target]


def _next(stage: str) -> str:
    i = STAGES.index(stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else "done"


def build_graph(services: Services, checkpointer=None):
    g = StateGraph(OrchestrationState)
    g.add_node("start", start)
    g.add_node("preflight", preflight_node(services))
    for stage, runner in runners(services).items():
        g.add_node(stage, stage_node(stage, runner, services))
    for gate in GATES:
        g.add_node(f"gate_{gate}", gate_node(gate, services))
    g.add_node("done", done)
    g.add_edge(START, "start")
    g.add_edge("start", "preflight")
    g.add_edge("preflight", STAGES[0])
    for stage in STAGES:
        route, targets = _after_stage(stage)
        g.add_conditional_edges(stage, route, targets)
    for gate in GATES:
        route, targets = _after_gate(gate)
        g.add_conditional_edges(f"gate_{gate}", route, targets)
    g.add_edge("done", END)
    return g.compile(checkpointer=checkpointer, name="orchestrator")
