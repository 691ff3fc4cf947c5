"""The driver: invoke a graph until it ends or pauses at a gate nobody decided.

At a gate the decision comes from `agentos approve|reject` (the run's decision file), else from a
`/agentos approve|reject` comment on the issue, else from the terminal; with none, the run pauses
and the same command (or `agentos poll`) continues it once someone decides. The run's end (or
an expected error) is noted in its record and event log here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from agentos import runs
from agentos.errors import AgentosError, ExitCode
from agentos.forge.commands import FLOOR_KEY
from agentos.paths import RepoLayout
from agentos.progress.events import Progress
from agentos.workflows.orchestrator.decisions import overrides
from agentos.workflows.orchestrator.session import Session

RECURSION_LIMIT = 2000

Asker = Callable[[dict[str, Any]], "dict[str, Any] | None"]
"""At a gate: the interrupt payload → {action: approve|reject, feedback}, or None to pause."""

Decider = Callable[[runs.RunRecord], "dict[str, Any] | None"]
"""At a gate: the decision found for the paused run (e.g. in issue comments), or None."""


@dataclass
class RunContext:
    """One run's collaborators, handed to the driver together: its graph and where it is recorded."""

    graph: Any
    cfg: dict[str, Any]
    """The graph's run config: the run's thread (checkpoints) and the recursion limit."""
    record: runs.RunRecord
    layout: RepoLayout
    progress: Progress
    ask: Asker | None = None
    from_comments: Decider | None = None


@dataclass
class RunResult:
    """How a command ended: its exit code, the run's status and what to tell the user."""

    exit_code: int
    status: str
    message: str
    run_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


def graph_config(record: runs.RunRecord) -> dict[str, Any]:
    """The run config that ties a graph's checkpoints to this run."""
    return {"configurable": {"thread_id": record.thread_id}, "recursion_limit": RECURSION_LIMIT}


def drive(ctx: RunContext, first: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Invoke until the graph ends or pauses at a gate nobody decided: (state, pending gate or None).

    `first` is the graph's input for a new run, None to continue from the checkpoint. Errors
    propagate; the checkpoint before the failing step stays, so the same command resumes.
    """
    from langgraph.types import Command

    value = first
    while True:
        snap = ctx.graph.get_state(ctx.cfg)
        resumed = None
        if snap.interrupts:
            payload, resumed = snap.interrupts[0].value, snap.config["configurable"].get("checkpoint_id")
            decision = _decide(ctx, payload, resumed)
            if decision is None:
                return snap.values, payload
            _resume(ctx, payload, decision, snap.values.get("decisions") or [])
            value = Command(resume=decision)
        elif value is None and not snap.next:
            return snap.values, None
        ctx.graph.invoke(value, ctx.cfg, durability="sync")
        if resumed:  # checkpointed past the pause: only now is its decision used up
            runs.consume_decision(ctx.layout, ctx.record, resumed)
        value = None


def _decide(ctx: RunContext, payload: dict[str, Any], pause: str | None) -> dict[str, Any] | None:
    """Record the pause, then look for a decision: the CLI's file, an issue comment, the terminal."""
    record = ctx.record
    if record.extra.get(runs.PAUSE_KEY) != pause:  # a new pause: comments before it decide nothing
        record.extra.pop(FLOOR_KEY, None)
    record.status, record.gate, record.extra[runs.PAUSE_KEY] = "paused", payload, pause
    runs.save(ctx.layout, record)
    decision = _recorded_decision(ctx)
    if decision is None and ctx.from_comments is not None:
        decision = ctx.from_comments(record)
        runs.save(ctx.layout, record)
    if decision is None:  # waiting now, also while the terminal asks: the views say paused, not running
        ctx.progress.emit("gate_paused", stage=payload.get("gate"), data=payload,
                          message=f"waiting for approval of {payload.get('stage')}")
        if ctx.ask is not None:
            ctx.progress.suspend()
            decision = ctx.ask(payload)
    return decision


def _recorded_decision(ctx: RunContext) -> dict[str, Any] | None:
    """The decision file's decision; a damaged file is ignored, and said."""
    try:
        return runs.take_decision(ctx.layout, ctx.record)
    except AgentosError as exc:
        ctx.progress.emit("note", message=str(exc))
        return None


def _resume(ctx: RunContext, payload: dict[str, Any], decision: dict[str, Any], earlier: list[dict]) -> None:
    """Note the decision and mark the run running again (the decision file stays until checkpointed
    past); the event says who decided, and whether an approval overrides a rejection."""
    record = ctx.record
    note = overrides(earlier, str(payload.get("gate")), decision.get("action"))
    ctx.progress.emit("gate_decided", stage=payload.get("gate"), verdict=decision.get("action"),
                      message=decision.get("feedback") or "",
                      data={"by": decision.get("by", ""), **({"overrides": note} if note else {})})
    record.status, record.gate = "running", None
    runs.save(ctx.layout, record)


def comment_gate(session: Session, log: Callable[[str], Any]) -> Decider:
    """Gate decisions from `/agentos approve|reject` comments on the issue; `log` hears what was ignored."""
    from agentos.forge.commands import CommentGate

    return CommentGate(session.forge, session.issue.number, log)


def finish(ctx: RunContext, status: str, note: str) -> None:
    """Note how the run ended in its record and its event log."""
    ctx.record.status, ctx.record.message = status, note
    runs.save(ctx.layout, ctx.record)
    ctx.progress.emit("run_finished", verdict=status, message=note)


def fail(ctx: RunContext, exc: AgentosError) -> None:
    """Note an expected error (bad config, budget) as the run's end: "budget" (resumable) or "failed"."""
    finish(ctx, "budget" if exc.exit_code == ExitCode.BUDGET else "failed", str(exc).splitlines()[0])
