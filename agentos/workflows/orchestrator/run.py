"""Drive a run: pick up or start the issue's run, invoke the graph, handle gates, map the end.

This is the library function behind `orchestrate` and `agentos <workflow>`; the CLI only
parses arguments and prints what this returns.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from agentos.config import LoadedConfig, load_config
from agentos import runs
from agentos.errors import AgentosError, ModelCallError, ProviderConfigError, UsageError
from agentos.forge.base import Forge, Issue
from agentos.forge.commands import FLOOR_KEY
from agentos.forge.factory import make_forge
from agentos.llm.registry import readiness, split_model_id
from agentos.llm.retry import ModelCallFailed
from agentos.paths import RepoLayout, find_repo_root
from agentos.progress.events import Progress
from agentos.workflows.orchestrator.config import GATES
from agentos.workflows.orchestrator.plan import make_plan
from agentos.workflows.orchestrator.state import STAGES
from agentos.workflows.workspace import Workspace

RECURSION_LIMIT = 2000
EXIT_BY_STATUS = {"done": 0, "paused": 3, "blocked": 4, "budget": 5}

Asker = Callable[[dict[str, Any]], "dict[str, Any] | None"]
"""At a gate: the interrupt payload → {action: approve|reject, feedback}, or None to pause."""


@dataclass
class RunOptions:
    issue: int
    repo: Path | None = None
    config_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    """Config overrides from flags, as dotted key → value (None = not given)."""
    skip: set[str] = field(default_factory=set)
    resume_from: str | None = None
    dry_run: bool = False
    plain: bool = False
    allow_closed: bool = False
    """Work on a closed issue (refused otherwise)."""


@dataclass
class RunResult:
    exit_code: int
    status: str
    message: str
    run_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """What every command needs about the target: repo, config, forge, issue, workspace."""

    layout: RepoLayout
    loaded: LoadedConfig
    forge: Forge
    issue: Issue
    workspace: Workspace

    @property
    def config(self):
        return self.loaded.config


def open_session(opts: RunOptions) -> Session:
    layout = RepoLayout(find_repo_root(opts.repo))
    loaded = load_config(layout.root, opts.config_file, opts.sets, opts.flags)
    forge = make_forge(loaded.config, layout)
    issue = forge.get_issue(opts.issue)
    if issue.state == "closed" and not opts.allow_closed:
        raise UsageError(f"issue #{issue.number} is closed", "reopen it, or pass --allow-closed to work on it anyway")
    return Session(layout, loaded, forge, issue, Workspace.for_issue(layout, loaded.config, opts.issue))


def stage_models(config, stage: str) -> list[str]:
    stages = config.stages
    return {
        "triage": [stages.triage.drafter, stages.triage.reviewer],
        "lld": [stages.lld.drafter, stages.lld.reviewer],
        "spec": [stages.spec.drafter, stages.spec.reviewer],
        "impl": [stages.implementation.implementer],
    }.get(stage, [])


def check_models(session: Session, plan: dict[str, dict], strict: bool = True) -> dict[str, str | None]:
    """Model id → why it is not ready (None when ready).

    Strict (before a real run): an unknown provider or a model that is not ready (no key, no
    CLI, no script) raises ProviderConfigError (exit 2) before anything is written.
    """
    from agentos.workflows.implementation import external  # agent CLIs: not model providers
    from agentos.workflows.services import provider_context

    ctx = provider_context(session.layout.root, session.config)
    used = {(s, m) for s, p in plan.items() if p["action"] == "run" for m in stage_models(session.config, s)}

    def agent(stage: str, model_id: str) -> bool:
        # `gemini-cli:` is an implementing agent in the impl stage and a model provider elsewhere.
        return stage == "impl" and external.is_external(model_id)

    if strict:
        for stage, model_id in used:
            external.parse(model_id) if agent(stage, model_id) else split_model_id(model_id)
    ready = {m: external.readiness(m) if agent(s, m) else readiness(m, ctx) for s, m in sorted(used)}
    problems = [f"{m}: {why}" for m, why in ready.items() if why]
    if strict and problems:
        raise ProviderConfigError("models not ready:\n  " + "\n  ".join(problems),
                                  "fix what is named, or run `agentos doctor` for details")
    return ready


@contextmanager
def checkpointer(layout: RepoLayout) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    layout.ensure()
    conn = sqlite3.connect(str(layout.state_db), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def build_services(session: Session, record: runs.RunRecord, plain: bool, stream=None):
    from agentos.forge.reporting import IssueReporter
    from agentos.progress.console import make_console_sink
    from agentos.progress.log import JsonlSink
    from agentos.redact import redact
    from agentos.workflows.services import Services, build_models

    run_dir = session.layout.run_dir(record.run_id)
    reporter = IssueReporter(session.forge, session.issue.number, session.issue.labels, session.layout.root,
                             session.workspace.branch)
    progress = Progress(record.run_id, [JsonlSink(run_dir / "events.jsonl", redact=redact),
                                        make_console_sink(stream or sys.stderr, force_plain=plain), reporter])
    models = build_models(session.layout, run_dir, progress, config=session.config)
    return Services(session.layout, session.config, session.forge, models, progress,
                    session.workspace, record.run_id, run_dir)


def orchestrate(opts: RunOptions, ask: Asker | None = None, stream=None) -> RunResult:
    """Take the issue as far as it can go: to a PR, a gate, a blocker, or an error."""
    session = open_session(opts)
    if opts.dry_run:
        from agentos.workflows.orchestrator.dry_run import render_plan

        plan = make_plan(session.config, session.workspace, opts.skip, opts.resume_from)
        return RunResult(0, "dry-run", render_plan(session, plan, check_models(session, plan, strict=False)))
    session.forge.check_push(session.workspace.branch)  # before any model is called or run recorded
    record, fresh_plan = _pick_run(session, opts)
    if record is None:
        return _already_done(session)
    services = build_services(session, record, opts.plain, stream)
    try:
        return _execute(session, services, record, fresh_plan, ask)
    finally:
        services.progress.close()


def _pick_run(session: Session, opts: RunOptions) -> tuple[runs.RunRecord | None, dict | None]:
    """(record, plan): the unfinished run to resume (plan None), or a new run with its plan."""
    last = runs.latest(session.layout, opts.issue)
    if last and not opts.resume_from and not opts.skip:
        if last.status == "done":
            return None, None
        if last.status != "blocked":
            return last, None
    plan = make_plan(session.config, session.workspace, opts.skip, opts.resume_from)
    check_models(session, plan)  # before the run is recorded: a missing key costs nothing
    return runs.new_run(session.layout, opts.issue, "orchestrate"), plan


def _already_done(session: Session) -> RunResult:
    record = runs.latest(session.layout, session.issue.number)
    return RunResult(0, "done", f"issue #{session.issue.number} is already done: {record.message}\n"
                     "  to run a stage again: orchestrate --issue N --resume-from STAGE", record.run_id)


def _execute(session, services, record, plan, ask) -> RunResult:
    from agentos.workflows.orchestrator.graph import build_graph

    with checkpointer(session.layout) as saver:
        graph = build_graph(services, saver)
        cfg = {"configurable": {"thread_id": record.thread_id}, "recursion_limit": RECURSION_LIMIT}
        first = _first_input(session, services, record, plan, graph, cfg)

        def note(text: str) -> None:
            services.progress.emit("note", message=text)

        state, paused = drive(graph, cfg, first, record, session.layout, services.progress, ask,
                              comment_gate(session, note))
        return _finish(session, services, record, state, paused)


def comment_gate(session: Session, log: Callable[[str], Any]):
    """Gate decisions from `/agentos approve|reject` comments on the issue; `log` hears what was ignored."""
    from agentos.forge.commands import CommentGate

    return CommentGate(session.forge, session.issue.number, log)


def _first_input(session, services, record, plan, graph, cfg):
    stages = list(STAGES)
    info = {"issue": session.issue.number, "title": session.issue.title, "stages": stages,
            "forge": session.forge.summary, "run_dir": str(services.run_dir)}
    if plan is None:
        values = graph.get_state(cfg).values
        done = {s: r.get("verdict") for s, r in (values.get("stage_results") or {}).items()}
        services.progress.emit("run_resumed", data={**info, "done_stages": done})
        return None
    services.progress.emit("run_started", data=info)
    return {"issue_number": session.issue.number, "run_id": record.run_id, "plan": plan,
            "stage_attempts": {}, "stage_errors": {}, "stage_results": {}, "feedback": {},
            "issue_brief_path": None, "lld_path": None, "spec_path": None, "pr_url": None,
            "completed_at": None}


def drive(graph, cfg, first, record, layout, progress, ask, from_comments=None) -> tuple[dict, dict | None]:
    """Invoke until the graph ends or pauses at a gate nobody decided. (state, pending gate).

    At a gate the decision comes from `agentos approve|reject`, else from an issue comment
    (`from_comments(record)`), else from `ask` (the terminal).
    An expected error (bad config, budget) is noted in the run record and re-raised; the
    checkpoint before the failing step stays, so the same command resumes once it is fixed.
    """
    try:
        return _drive(graph, cfg, first, record, layout, progress, ask, from_comments)
    except AgentosError as exc:
        record.status, record.message = _status_for(exc), str(exc).splitlines()[0]
        runs.save(layout, record)
        progress.emit("run_finished", verdict=record.status, message=record.message)
        raise


def _drive(graph, cfg, first, record, layout, progress, ask, from_comments) -> tuple[dict, dict | None]:
    from langgraph.types import Command

    value = first
    while True:
        snap = graph.get_state(cfg)
        if snap.interrupts:
            payload = snap.interrupts[0].value
            record.status, record.gate = "paused", payload
            runs.save(layout, record)
            decision = runs.take_decision(layout, record)
            if decision is None and from_comments is not None:
                decision = from_comments(record)
                runs.save(layout, record)
            if decision is None and ask is not None:
                progress.suspend()
                decision = ask(payload)
            if decision is None:
                progress.emit("gate_paused", stage=payload.get("gate"), data=payload,
                              message=f"waiting for approval of {payload.get('stage')}")
                return snap.values, payload
            runs.decision_path(layout, record).unlink(missing_ok=True)
            progress.emit("gate_decided", stage=payload.get("gate"), verdict=decision.get("action"),
                          message=decision.get("feedback") or "", data={"by": decision.get("by", "")})
            record.status, record.gate = "running", None
            record.extra.pop(FLOOR_KEY, None)  # the next pause counts only newer comments
            runs.save(layout, record)
            value = Command(resume=decision)
        elif value is None and not snap.next:
            return snap.values, None
        graph.invoke(value, cfg, durability="sync")
        value = None


def _status_for(exc: AgentosError) -> str:
    return {5: "budget"}.get(exc.exit_code, "failed")


def _finish(session, services, record, state, paused) -> RunResult:
    if paused:
        status, message = "paused", pause_instructions(session, paused)
    else:
        status = state.get("status", "blocked")
        message = (f"PR: {state.get('pr_url')}" if status == "done"
                   else f"blocked at {state.get('blocker') or 'an unknown stage'}")
    record.status, record.message = status, message.splitlines()[0]
    runs.save(session.layout, record)
    services.progress.emit("run_finished", verdict=status, message=record.message)
    return RunResult(EXIT_BY_STATUS.get(status, 1), status, message, record.run_id, state)


def pause_instructions(session: Session, payload: dict) -> str:
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


def record_decision(opts: RunOptions, action: str, feedback: str | None) -> str:
    """`agentos approve|reject`: note the decision for the run paused at a gate."""
    import json

    layout = RepoLayout(find_repo_root(opts.repo))
    record = runs.latest(layout, opts.issue)
    if record is None or record.status != "paused" or not record.gate:
        state = record.status if record else "never run"
        raise UsageError(f"issue #{opts.issue} has no run paused at a gate (latest run: {state})",
                         f"see `agentos status {opts.issue}`")
    if action == "reject" and not (feedback or "").strip():
        raise UsageError("reject needs feedback for the next revision", 'add --feedback "what to change"')
    decision = {"gate": record.gate.get("gate"), "action": action, "feedback": feedback}
    runs.decision_path(layout, record).write_text(json.dumps(decision))
    return f"{action} recorded for gate {record.gate.get('gate')} of issue #{opts.issue}; continue with: orchestrate --issue {opts.issue}"


def poll(repo: Path | None, plain: bool = False, stream=None) -> RunResult:
    """`agentos poll`: continue each paused run whose gate was decided (CLI or issue comment)."""
    layout = RepoLayout(find_repo_root(repo))
    lines, codes = [], []
    for record in _paused_runs(layout):
        opts = RunOptions(issue=record.issue, repo=layout.root, plain=plain)
        notes: list[str] = []
        try:
            session = open_session(opts)
            decided = runs.take_decision(layout, record) or comment_gate(session, notes.append)(record)
            runs.save(layout, record)
            result = orchestrate(opts, stream=stream) if decided else None
        except AgentosError as exc:
            lines.append(f"#{record.issue}: {str(exc).splitlines()[0]}")
            codes.append(exc.exit_code)
            continue
        lines += [f"#{record.issue}: {note}" for note in notes]
        gate = (record.gate or {}).get("gate")
        lines.append(f"#{record.issue}: " + (result.message.splitlines()[0] if result else f"still waiting at gate {gate}"))
        codes.append(result.exit_code if result else 3)
    code = max((c for c in codes if c not in (0, 3)), default=0)
    return RunResult(code, "poll", "\n".join(lines) or "no run is paused at a gate")


def _paused_runs(layout: RepoLayout) -> list[runs.RunRecord]:
    """The latest orchestrate run of each issue, where that run is paused at a gate."""
    found = [runs.load(p) for p in layout.runs_dir.glob("*/run.json")] if layout.runs_dir.exists() else []
    latest: dict[int, runs.RunRecord] = {}
    for record in sorted((r for r in found if r and r.kind == "orchestrate"), key=lambda r: r.created_at):
        latest[record.issue] = record
    return [r for _, r in sorted(latest.items()) if r.status == "paused" and r.gate]


__all__ = ["RunOptions", "RunResult", "orchestrate", "poll", "record_decision", "GATES"]


def run_workflow(stage: str, opts: RunOptions, stream=None) -> RunResult:
    """One workflow on its own (`agentos lld --issue N`): same graph, own run and checkpoints."""
    from agentos.workflows.orchestrator.stages import BUILDERS

    session = open_session(opts)
    check_models(session, {stage: {"action": "run"}})
    last = runs.latest(session.layout, opts.issue, kind=stage)
    resumable = last is not None and last.status in ("running", "failed", "budget")
    record = last if resumable else runs.new_run(session.layout, opts.issue, stage)
    services = build_services(session, record, opts.plain, stream)
    try:
        with checkpointer(session.layout) as saver:
            graph = BUILDERS[stage](services, saver)
            cfg = {"configurable": {"thread_id": record.thread_id}, "recursion_limit": RECURSION_LIMIT}
            started = bool(graph.get_state(cfg).values)
            services.progress.emit("run_resumed" if started else "run_started",
                                   data={"issue": opts.issue, "title": session.issue.title, "stages": [stage]})
            first = None if started else {"issue_number": opts.issue, "attempt": 1}
            try:
                state, _ = drive(graph, cfg, first, record, session.layout, services.progress, None)
            except ModelCallFailed:
                raise  # provider unavailable after its retries: resumable, as in the orchestrator
            except ModelCallError as exc:  # as in the orchestrator: the stage blocks, with the reason
                state = {"outcome": "BLOCK", "message": f"model call failed: {exc}"}
        status = "done" if state.get("outcome") == "PASS" else "blocked"
        where = state.get("doc_path") or state.get("pr_url") or state.get("commit") or ""
        record.status, record.message = status, f"{state.get('message', '')} {where}".strip()
        runs.save(session.layout, record)
        services.progress.emit("run_finished", verdict=status, message=record.message)
        return RunResult(EXIT_BY_STATUS[status], status, f"{stage}: {status}: {record.message}", record.run_id, state)
    finally:
        services.progress.close()
