"""Run an issue: the whole pipeline (`orchestrate`) or one workflow on its own (`agentos lld`, ...).

Both take the same path: open the session, pick up or start a run, execute its graph with the
repository's checkpointer, finish the run record. What differs is a `Job`: which graph, its
first input, and how its end reads. The CLI only parses arguments and prints what this returns.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from agentos import runlock, runs
from agentos.errors import AgentosError, ExitCode, ModelCallError, StateDamagedError, Terminated
from agentos.llm.retry import ModelCallFailed
from agentos.progress.events import Progress
from agentos.sandbox import from_config
from agentos.workflows.orchestrator.driver import (
    Asker, RunContext, RunResult, comment_gate, drive, fail, finish, graph_config,
)
from agentos.workflows.orchestrator.plan import make_plan, owe_gates
from agentos.workflows.orchestrator.session import (
    RunOptions, Session, build_services, check_models, checkpointer, open_session, shared_runs,
)
from agentos.workflows.orchestrator.settings import continued_options, remember
from agentos.workflows.orchestrator.state import STAGES
from agentos.workflows.services import Services
from agentos.workflows.workspace import DOC_FILES

State = dict[str, Any]


class Job(Protocol):
    """What one kind of run brings to the shared path."""

    def build(self, services: Services, saver: Any) -> Any:
        """The compiled graph, checkpointing with `saver`."""

    def first_input(self, ctx: RunContext, services: Services) -> State | None:
        """Announce the run (started or resumed); the graph's input, or None to resume its checkpoint."""

    def blocked(self, exc: ModelCallError) -> State:
        """The end state when a model's answer could not be used (the run blocks, with the reason)."""

    def outcome(self, state: State, paused: State | None) -> tuple[str, str, str]:
        """(run status, one-line note for the record, message for the user)."""


def execute(session: Session, record: runs.RunRecord, job: Job, plain: bool = False,
            ask: Asker | None = None, stream=None) -> RunResult:
    """Run the job's graph with the repository's checkpointer until it ends or pauses; finish the record."""
    sandbox = from_config(session.config.sandbox)  # no sandbox here: refuse before anything runs (exit 2)
    services = build_services(session, record, plain, stream)
    runs.claim(session.layout, record)
    if sandbox.off:
        services.progress.emit("note", message=f"WARNING: {sandbox.summary()}")
    session.layout.remove_stale_temps()
    for lock in session.workspace.remove_stale_locks():  # callers hold the issue's run lock: no git of ours runs there
        services.progress.emit("note", message=f"removed {lock}, left by a git command of a killed run")
    for note in session.notes:
        services.progress.emit("note", message=note)
    try:
        with checkpointer(session.layout, session.config.state.url) as saver:
            ctx = RunContext(job.build(services, saver), graph_config(record), record, session.layout,
                             services.progress, ask, comment_gate(session, _note_to(services.progress)))
            state, paused = _drive(ctx, job, job.first_input(ctx, services))
        status, note, message = job.outcome(state, paused)
        finish(ctx, status, note)
        return RunResult(ExitCode.for_status(status), status, message, record.run_id, state)
    finally:
        services.progress.close()


def _drive(ctx: RunContext, job: Job, first: State | None) -> tuple[State, State | None]:
    """Drive the graph; an unusable model answer blocks the run, other expected errors are noted and re-raised."""
    try:
        return drive(ctx, first)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (errors.Terminated): the same command continues
        finish(ctx, "interrupted", "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)")
        raise
    except AgentosError as exc:
        if isinstance(exc, ModelCallError) and not isinstance(exc, ModelCallFailed):
            return job.blocked(exc), None
        # Including ModelCallFailed: the provider's retries gave up. The checkpoint stays, so
        # the same command continues once it is back; running the step again now would only
        # multiply retries.
        fail(ctx, exc)
        raise


def _note_to(progress: Progress) -> Callable[[str], None]:
    """A log line for the run's events (e.g. a gate comment that was ignored, and why)."""
    def note(text: str) -> None:
        progress.emit("note", message=text)

    return note


def orchestrate(opts: RunOptions, ask: Asker | None = None, stream=None) -> RunResult:
    """Take the issue as far as it can go: to a PR, a gate, a blocker, or an error."""
    opts, notes = continued_options(opts)
    session = open_session(opts)
    session.notes = notes
    if opts.dry_run:
        from agentos.workflows.orchestrator.dry_run import render_plan

        plan = make_plan(session.config, session.workspace, opts.skip, opts.resume_from)
        return RunResult(ExitCode.DONE, "dry-run", render_plan(session, plan, check_models(session, plan, strict=False)))
    with one_run(session, opts, "orchestrate"):
        return _orchestrate(session, opts, ask, stream)


@contextmanager
def one_run(session: Session, opts: RunOptions, what: str):
    """Hold the issue's run lock (agentos/runlock.py) for the block: one run per issue at a time."""
    def waiting(holder: runlock.Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        print(f"waiting for the run of issue #{opts.issue} by {who} to end", file=sys.stderr, flush=True)

    with runlock.issue_lock(session.layout, opts.issue, f"{what} --issue {opts.issue}", opts.wait, waiting):
        yield


def _orchestrate(session: Session, opts: RunOptions, ask: Asker | None, stream) -> RunResult:
    with shared_runs(session):  # with shared state: the issue's runs and branch from wherever they were
        session.forge.check_push(session.workspace.branch)  # before any model is called or run recorded
        from_config(session.config.sandbox)
        record, fresh_plan = _pick_run(session, opts)
        if record is None:
            return _already_done(session)
        session.notes += remember(session.layout, record, opts, session.loaded)
        return execute(session, record, PipelineJob(session, fresh_plan, opts), opts.plain, ask, stream)


def _pick_run(session: Session, opts: RunOptions) -> tuple[runs.RunRecord | None, dict | None]:
    """(record, plan): the unfinished run to resume (plan None), or a new run with its plan."""
    last = runs.latest(session.layout, opts.issue)
    if last and not opts.resume_from and not opts.skip:
        if last.status == "done":
            return None, None
        if last.status not in ("blocked", runs.RESET):
            return last, None
    plan = _new_plan(session, opts)  # before the run is recorded: a missing key costs nothing
    if last and last.status == runs.RESET and not opts.resume_from and not opts.skip:
        plan = owe_gates(plan, _approved_gates(session, last))
    return runs.new_run(session.layout, opts.issue, "orchestrate"), plan


def _new_plan(session: Session, opts: RunOptions) -> dict[str, dict]:
    """The plan of a run that starts now, with every model it calls ready (exit 2 otherwise)."""
    plan = make_plan(session.config, session.workspace, opts.skip, opts.resume_from)
    check_models(session, plan)
    return plan


def _approved_gates(session: Session, record: runs.RunRecord) -> set[str]:
    """The gates a human approved in a run (its event log: the last decision at each gate counts)."""
    from agentos.files import read_jsonl

    last = {e.get("stage"): e.get("verdict") for e in read_jsonl(session.layout.run_dir(record.run_id) / "events.jsonl")
            if e.get("kind") == "gate_decided"}
    return {gate for gate, verdict in last.items() if verdict == "approve"}


def _already_done(session: Session) -> RunResult:
    record = runs.latest(session.layout, session.issue.number)
    return RunResult(ExitCode.DONE, "done", f"issue #{session.issue.number} is already done: {record.message}\n"
                     "  to run a stage again: orchestrate --issue N --resume-from STAGE", record.run_id)


@dataclass
class PipelineJob:
    """The orchestrator graph: every stage, with gates between them."""

    session: Session
    plan: dict[str, dict] | None
    """The new run's plan; None when an unfinished run resumes."""
    opts: RunOptions

    def build(self, services: Services, saver: Any) -> Any:
        from agentos.workflows.orchestrator.graph import build_graph

        return build_graph(services, saver)

    def first_input(self, ctx: RunContext, services: Services) -> State | None:
        issue = self.session.issue
        ws = self.session.workspace
        info = {"issue": issue.number, "title": issue.title, "stages": list(STAGES),
                "forge": self.session.forge.summary, "run_dir": str(services.run_dir),
                "branch": ws.branch, "base": ws.base, "worktree": str(ws.path),
                "documents": {kind: ws.doc_path(kind) for kind in DOC_FILES}}
        values = ctx.graph.get_state(ctx.cfg).values if self.plan is None else {}
        if self.plan is None and not values and ctx.record.extra.get(runs.PAUSE_KEY):
            raise StateDamagedError(  # it had paused, so it had checkpoints: they are lost
                f"run {ctx.record.run_id} had paused at a gate, but its checkpoints are not in "
                f"{ctx.layout.state_db} (the file was truncated or replaced)",
                "run `agentos repair`; then the same command starts the run again from the documents "
                "already on the issue's branch")
        if self.plan is None and not values:
            # Stopped (killed, interrupted) before its first checkpoint: nothing of it ran, so it starts now.
            self.plan = _new_plan(self.session, self.opts)
        if self.plan is None:
            done = {s: r.get("verdict") for s, r in (values.get("stage_results") or {}).items()}
            ctx.progress.emit("run_resumed", data={**info, "done_stages": done})
            return None
        ctx.progress.emit("run_started", data=info)
        return {"issue_number": issue.number, "run_id": ctx.record.run_id, "plan": self.plan,
                "stage_attempts": {}, "stage_errors": {}, "stage_results": {}, "feedback": {},
                "issue_brief_path": None, "lld_path": None, "spec_path": None, "pr_url": None,
                "completed_at": None}

    def blocked(self, exc: ModelCallError) -> State:
        # Stage nodes retry an unusable answer themselves; one that escapes them still blocks.
        return {"status": "blocked", "blocker": f"model call failed: {exc}"}

    def outcome(self, state: State, paused: State | None) -> tuple[str, str, str]:
        if paused:
            status, message = "paused", pause_instructions(self.session, paused)
        else:
            status = state.get("status", "blocked")
            message = (f"PR: {state.get('pr_url')}" if status == "done"
                       else f"blocked at {state.get('blocker') or 'an unknown stage'}")
        return status, message.splitlines()[0], message


def pause_instructions(session: Session, payload: dict) -> str:
    """What a paused run tells its user: the gate, and each way to decide it and continue."""
    n = session.issue.number
    repo = f" --repo {session.layout.root}" if session.layout.root != Path.cwd().resolve() else ""
    artifact = f" ({payload.get('artifact')} on {session.workspace.branch})" if payload.get("artifact") else ""
    return (
        f"paused at gate {payload.get('gate')} for issue #{n}: review the {payload.get('stage')} result{artifact}.\n"
        f"  approve:  agentos approve {n}{repo}\n"
        f"  reject:   agentos reject {n}{repo} --feedback \"what to change\"\n"
        + (f"  or comment `/agentos approve` or `/agentos reject <feedback>` on the issue ({session.forge.name})\n"
           if session.forge.name != "local" else "")
        + f"  then:     orchestrate --issue {n}{repo}  (or `agentos poll`)"
    )


def run_workflow(stage: str, opts: RunOptions, stream=None) -> RunResult:
    """One workflow on its own (`agentos lld --issue N`): same graph, own run and checkpoints."""
    opts, notes = continued_options(opts, kind=stage)
    session = open_session(opts)
    check_models(session, {stage: {"action": "run"}})
    from_config(session.config.sandbox)
    with one_run(session, opts, stage):
        last = runs.latest(session.layout, opts.issue, kind=stage)
        resumable = last is not None and last.status in ("running", "interrupted", "failed", "budget")
        record = last if resumable else runs.new_run(session.layout, opts.issue, stage)
        session.notes = notes + remember(session.layout, record, opts, session.loaded)
        return execute(session, record, WorkflowJob(stage, session), opts.plain, stream=stream)


@dataclass
class WorkflowJob:
    """One workflow graph (a stage of the pipeline) run on its own."""

    stage: str
    session: Session

    def build(self, services: Services, saver: Any) -> Any:
        from agentos.workflows.orchestrator.stages import BUILDERS

        return BUILDERS[self.stage](services, saver)

    def first_input(self, ctx: RunContext, services: Services) -> State | None:
        started = bool(ctx.graph.get_state(ctx.cfg).values)
        ctx.progress.emit("run_resumed" if started else "run_started",
                          data={"issue": self.session.issue.number, "title": self.session.issue.title,
                                "stages": [self.stage]})
        return None if started else {"issue_number": self.session.issue.number, "attempt": 1}

    def blocked(self, exc: ModelCallError) -> State:
        return {"outcome": "BLOCK", "message": f"model call failed: {exc}"}

    def outcome(self, state: State, paused: State | None) -> tuple[str, str, str]:
        status = "done" if state.get("outcome") == "PASS" else "blocked"
        where = state.get("doc_path") or state.get("pr_url") or state.get("commit") or ""
        note = f"{state.get('message', '')} {where}".strip()
        return status, note, f"{self.stage}: {status}: {note}"
