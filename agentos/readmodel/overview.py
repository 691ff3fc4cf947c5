"""Runs as the views show them, read the cheap way: the run record (run.json), the event log
(events.jsonl), the spend ledger and the files the stages wrote. No graph engine is loaded, so
`agentos status` answers at once. A run is RUNNING only while the process recorded in it lives."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentos import runs
from agentos.errors import UsageError
from agentos.files import read_jsonl
from agentos.paths import RepoLayout
from agentos.progress.view import RunView, StageView, parse_ts
from agentos.readmodel import advice
from agentos.readmodel.artifacts import Where, code_review, documents, latest_review, test_summary
from agentos.readmodel.model import (
    Blocker, Decision, GateInfo, Liveness, RunDetail, RunSummary, StageRow, TestSummary, gate_label,
    stage_label,
)

FINISHED = ("done", "blocked", "failed", "budget")


@dataclass
class Event:
    """A progress event as events.jsonl holds it, read without validation (no pydantic), so a
    status answers at once; the fields are those of `agentos.progress.events.Event`."""

    kind: str
    run_id: str = ""
    ts: str = ""
    stage: str | None = None
    message: str = ""
    verdict: str | None = None
    attempt: int | None = None
    model: str | None = None
    purpose: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


_EVENT_FIELDS = {f.name for f in fields(Event)}


def read_events(path: Path) -> list[Event]:
    """The run's events in order; lines that are torn or not events are skipped."""
    out = []
    for record in read_jsonl(path):
        if isinstance(record.get("kind"), str):
            event = Event(**{k: v for k, v in record.items() if k in _EVENT_FIELDS})
            event.data = event.data if isinstance(event.data, dict) else {}
            out.append(event)
    return out


@dataclass
class _Run:
    """One run's record and everything folded from its files."""

    record: runs.RunRecord
    run_dir: Path
    view: RunView
    events: list[Event]
    header: dict[str, Any]
    spend: list[dict[str, Any]]
    alive: bool | None
    now: datetime

    @classmethod
    def read(cls, layout: RepoLayout, record: runs.RunRecord, now: datetime | None = None) -> _Run:
        run_dir = layout.run_dir(record.run_id)
        events = read_events(run_dir / "events.jsonl")
        header: dict[str, Any] = {}
        for event in events:
            if event.kind in ("run_started", "run_resumed"):
                header.update({k: v for k, v in event.data.items() if v is not None})
        return cls(record, run_dir, RunView.from_events(events), events, header,
                   read_jsonl(run_dir / "spend.jsonl"), runs.is_alive(record.process),
                   now or datetime.now(timezone.utc))

    @property
    def status(self) -> str:
        recorded = self.record.status
        if recorded == "running" and self.alive is False:
            return "interrupted"
        return recorded

    @property
    def last_at(self) -> datetime | None:
        stamps = [parse_ts(e.ts) for e in self.events[-1:]] or [parse_ts(self.record.created_at)]
        return stamps[0]

    @property
    def clock(self) -> datetime:
        """Where the run's clocks stop: now while a process runs it, else at its end, its pause or
        its last event."""
        if self.status == "running":
            return self.now
        return self.view.finished or self.last_at or self.now


def latest_record(layout: RepoLayout, issue: int, kind: str | None = "orchestrate") -> runs.RunRecord:
    """The issue's latest run; a UsageError (with how to start one) when there is none."""
    record = runs.latest(layout, issue, kind=kind) or (runs.latest(layout, issue, kind=None) if kind else None)
    if record is None:
        raise UsageError(f"issue #{issue} has no runs in {layout.root}", f"start one: orchestrate --issue {issue}")
    return record


def where(layout: RepoLayout, issue: int) -> Where:
    """Where the issue's work lives, from its latest run (a UsageError when it has none)."""
    run = _Run.read(layout, latest_record(layout, issue))
    return Where.of(layout, issue, run.header, run.run_dir)


def list_runs(layout: RepoLayout, now: datetime | None = None) -> list[RunSummary]:
    """Every issue's latest run (a whole-pipeline run when it has one), newest activity first."""
    found = [r for r in (runs.load(p) for p in layout.runs_dir.glob("*/run.json")) if r] \
        if layout.runs_dir.is_dir() else []
    latest: dict[int, runs.RunRecord] = {}
    for record in sorted(found, key=lambda r: (r.kind == "orchestrate", r.created_at)):
        latest[record.issue] = record
    summaries = [summarize(_Run.read(layout, r, now)) for r in latest.values()]
    return sorted(summaries, key=lambda s: s.updated_at, reverse=True)


def summarize(run: _Run) -> RunSummary:
    record, view, status = run.record, run.view, run.status
    gate = (record.gate or {}) if status == "paused" else {}
    process = record.process or {}
    last = run.last_at
    return RunSummary(
        issue=record.issue, title=str(run.header.get("title") or view.title), run_id=record.run_id,
        kind=record.kind, status=status, stage=_current_stage(run, gate), gate=gate.get("gate"),
        pr_url=_pr_url(run), cost_usd=round(_cost(run), 6), created_at=record.created_at,
        updated_at=last.isoformat() if last else record.created_at,
        age_s=round(max(0.0, (run.now - last).total_seconds()), 1) if last else 0.0,
        elapsed_s=round(view.elapsed_s(run.clock), 1) if view.started else None,
        message=record.message,
        process=Liveness(process.get("pid"), str(process.get("host") or ""), process.get("since"), run.alive)
        if process else None)


def run_detail(layout: RepoLayout, issue: int, cwd: Path | None = None, now: datetime | None = None,
               kind: str | None = "orchestrate") -> RunDetail:
    """Everything about the issue's latest run: stages, gate, blocker, decisions, documents, next steps."""
    run = _Run.read(layout, latest_record(layout, issue, kind), now)
    summary = summarize(run)
    where = Where.of(layout, issue, run.header, run.run_dir)
    docs = documents(where, cwd)
    rows = stage_rows(run)
    gate = _gate(run, summary, docs)
    tests = test_summary(where)
    blocker = _blocker(run, rows, tests) if summary.status in ("blocked", "failed") else None
    repo = "" if layout.root == (cwd or Path.cwd()).resolve() else f" --repo {layout.root}"
    totals = run.view.totals()
    return RunDetail(
        summary=summary, stages=rows, gate=gate, blocker=blocker,
        next_steps=advice.next_steps(issue, summary.status, run.record.gate, blocker, repo),
        decisions=decisions(run.events), documents=docs, tests=tests,
        calls=totals.calls, input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
        branch=where.branch, base=where.base, worktree=str(where.worktree), run_dir=str(run.run_dir),
        code_review=code_review(run.run_dir), notes=[n.text for n in run.view.notes])


def stage_rows(run: _Run) -> list[StageRow]:
    """A row for every stage of the run's plan, pending and skipped ones included."""
    reasons = {e.stage: str(e.data.get("exit_reason") or "") for e in run.events if e.kind == "stage_finished"}
    failed: dict[str, int] = {}
    for entry in run.spend:
        if not entry.get("ok", True):
            failed[str(entry.get("stage"))] = failed.get(str(entry.get("stage")), 0) + 1
    spent = _spend_by_stage(run)
    return [_row(run, sv, reasons.get(name, ""), failed.get(name, 0), spent.get(name))
            for name, sv in run.view.stages.items()]


def _row(run: _Run, sv: StageView, reason: str, failed: int, spent: float | None) -> StageRow:
    status = sv.status
    if status == "running" and run.status != "running":
        status = "interrupted"
    elif status == "stopped":
        status = "interrupted" if run.status in ("interrupted", "failed", "budget") else status
    elapsed = sv.elapsed_s(run.clock)
    return StageRow(sv.name, stage_label(sv.name), status, sv.attempt,
                    round(elapsed, 1) if elapsed is not None else None, reason, sv.message, sv.calls,
                    sv.cached_calls, failed, sv.input_tokens, sv.output_tokens,
                    round(spent if spent is not None else sv.cost_usd, 6))


def decisions(events: list[Event]) -> list[Decision]:
    """People's gate decisions, in order; an approval after a rejection at the same gate says it overrides it."""
    out: list[Decision] = []
    for event in (e for e in events if e.kind == "gate_decided"):
        gate, action = event.stage or "", event.verdict or ""
        rejected = [d for d in out if d.gate == gate and d.action == "reject"]
        overrides = (f"overrides the rejection by {rejected[-1].by or 'someone'}"
                     if action == "approve" and rejected and out[-1].gate == gate and out[-1].action == "reject"
                     else str(event.data.get("overrides") or ""))
        out.append(Decision(gate, action, str(event.data.get("by") or ""), event.message, event.ts, overrides))
    return out


def _current_stage(run: _Run, gate: dict) -> str | None:
    if run.status == "done":
        return "done"
    if gate:
        return gate.get("stage")
    active = [sv.name for sv in run.view.stages.values() if sv.status not in ("pending", "skipped")]
    return active[-1] if active else None


def _gate(run: _Run, summary: RunSummary, docs: list) -> GateInfo | None:
    payload = run.record.gate or {}
    if summary.status != "paused" or not payload:
        return None
    paused = [parse_ts(e.ts) for e in run.events if e.kind == "gate_paused"]
    since = paused[-1] if paused else None
    stage = str(payload.get("stage") or "")
    return GateInfo(str(payload.get("gate") or ""), gate_label(payload.get("gate")), stage,
                    next((d for d in docs if d.kind == stage), None),
                    round((run.now - since).total_seconds(), 1) if since else None)


def _blocker(run: _Run, rows: list[StageRow], tests: TestSummary | None) -> Blocker:
    """The stage that stopped the run, with the review's open findings or the failing tests."""
    stopped = [r.name for r in rows if r.status == "BLOCK"] or [r.name for r in rows if r.status == "interrupted"]
    return blocker(run.run_dir, stopped[0] if stopped else "",
                   run.record.message.removeprefix("blocked at ") or run.view.message, tests)


def blocker(run_dir: Path, stage: str, reason: str, tests: TestSummary | None) -> Blocker:
    """Why `stage` stopped the run: `reason`, the last review's open findings (blocking first),
    and for the implementation the failing tests."""
    if stage == "review":
        ended = code_review(run_dir)
        return Blocker(stage, reason, ended.unresolved if ended else [])
    review = latest_review(run_dir, stage) if stage else {}
    findings = [] if review.get("verdict") == "APPROVED" else \
        sorted(review.get("findings") or [], key=lambda f: f.get("severity") != "blocking")
    return Blocker(stage, reason,
                   [f"{f.get('id', '')} ({f.get('severity', '')}, {f.get('section', '')}): {f.get('text', '')}"
                    for f in findings],
                   tests.failing_tests if tests and stage == "impl" else [])


def _pr_url(run: _Run) -> str | None:
    urls = [str(e.data.get("path")) for e in run.events if e.kind == "artifact_written" and e.stage == "pr"]
    return urls[-1] if urls else None


def _spend_by_stage(run: _Run) -> dict[str, float]:
    """Cost per stage from the spend ledger (which also counts failed calls), when the run has one."""
    out: dict[str, float] = {}
    for entry in run.spend:
        out[str(entry.get("stage"))] = out.get(str(entry.get("stage")), 0.0) + float(entry.get("cost_usd") or 0.0)
    return out


def _cost(run: _Run) -> float:
    return sum(_spend_by_stage(run).values()) if run.spend else run.view.totals().cost_usd
