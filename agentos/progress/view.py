"""An aggregated, replayable summary of one run, built from progress events.

Both console sinks fold events into a `RunView`; a `status` command can rebuild the
same view from an events.jsonl file with `RunView.from_events`. All times come from
`Event.ts`, so replaying a log reproduces the view (only a stage still running reads
the clock, to show its live elapsed time).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the view reads events' fields only: the read model folds logged events without pydantic
    from agentos.progress.events import Event

NOTES_KEPT = 5


def parse_ts(ts: str | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime (naive means UTC); None if unreadable."""
    try:
        parsed = datetime.fromisoformat(str(ts))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    """Seconds from start to end, never negative; 0 when either end is unknown."""
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds())


def _now() -> datetime:
    """The current time, aware (UTC), to compare with event timestamps."""
    return datetime.now(timezone.utc)


@dataclass
class StageView:
    """What one stage has done so far: status, attempts, time and model spend.

    `status` is pending | running | PASS | BLOCK | RETRY | skipped | stopped (the run
    ended while the stage was running). `calls` counts paid model calls; calls replayed
    from the journal count only in `cached_calls` and add no tokens or cost.
    Elapsed time sums the attempts, so a pause between a RETRY and the next attempt
    is not counted.
    """

    name: str
    status: str = "pending"
    attempt: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    message: str = ""
    busy_s: float = 0.0
    attempt_started: datetime | None = None
    step: str = ""
    """The work inside the stage right now, e.g. "review round 2 · REVISE, 3 findings"."""

    def start(self, at: datetime | None, attempt: int | None) -> None:
        """Begin an attempt; without an explicit number it is the next one."""
        self.status = "running"
        self.attempt = attempt if attempt is not None else self.attempt + 1
        self.started = self.started or at
        self.attempt_started = at
        self.finished = None

    def stop(self, at: datetime | None, status: str, message: str = "") -> None:
        """End the current attempt (if one is open) with a status."""
        self.busy_s += _seconds(self.attempt_started, at)
        self.attempt_started = None
        self.finished = at
        self.status = status
        self.message = message

    def add_call(self, event: Event) -> None:
        """Count a model call; a cached (replayed) call costs nothing again."""
        if event.data.get("cached"):
            self.cached_calls += 1
            return
        self.calls += 1
        self.input_tokens += event.input_tokens or 0
        self.output_tokens += event.output_tokens or 0
        self.cost_usd += event.cost_usd or 0.0

    def elapsed_s(self, now: datetime | None = None) -> float | None:
        """Time spent in this stage; None if it never started."""
        if self.started is None and not self.busy_s:
            return None
        if self.attempt_started is None:
            return self.busy_s
        return self.busy_s + _seconds(self.attempt_started, now or _now())


@dataclass
class Note:
    """A notable message shown under the stage table."""

    ts: datetime | None
    stage: str | None
    text: str
    level: str = "info"
    """info | warn | error"""


@dataclass
class RunView:
    """The whole run: header facts, ordered stage rows, recent notes and run status.

    `status` is pending until the run starts, then running | paused | the verdict of
    run_finished (done | blocked | paused | budget).
    """

    run_id: str = ""
    issue: int | None = None
    title: str = ""
    forge: str = ""
    run_dir: str = ""
    status: str = "pending"
    message: str = ""
    gate: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    stages: dict[str, StageView] = field(default_factory=dict)
    notes: deque[Note] = field(default_factory=lambda: deque(maxlen=NOTES_KEPT))

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> RunView:
        """Replay events into a fresh view."""
        view = cls()
        for event in events:
            view.apply(event)
        return view

    def apply(self, event: Event) -> None:
        """Fold one event into the view; kinds the view does not show are ignored."""
        self.run_id = event.run_id or self.run_id
        fold = _FOLDS.get(event.kind)
        if fold is not None:
            fold(self, event, parse_ts(event.ts))

    def stage(self, name: str) -> StageView:
        """The row for a stage, added at the end if the stage was not announced."""
        if name not in self.stages:
            self.stages[name] = StageView(name)
        return self.stages[name]

    def totals(self) -> StageView:
        """Calls, tokens and cost summed over all stages."""
        total = StageView("total", status=self.status)
        for sv in self.stages.values():
            total.calls += sv.calls
            total.cached_calls += sv.cached_calls
            total.input_tokens += sv.input_tokens
            total.output_tokens += sv.output_tokens
            total.cost_usd += sv.cost_usd
        return total

    def elapsed_s(self, now: datetime | None = None) -> float | None:
        """Wall time since the run started, up to its finish (or now)."""
        if self.started is None:
            return None
        return _seconds(self.started, self.finished or now or _now())

    def running(self) -> list[StageView]:
        """Stages with an attempt in progress."""
        return [sv for sv in self.stages.values() if sv.status == "running"]

    def take_header(self, data: dict[str, Any]) -> None:
        """Header fields and stage order from run_started / run_resumed data."""
        if data.get("issue") is not None:
            self.issue = int(data["issue"])
        self.title = str(data.get("title") or self.title)
        self.forge = str(data.get("forge") or self.forge)
        self.run_dir = str(data.get("run_dir") or self.run_dir)
        order = [str(s) for s in data.get("stages") or []]
        for name in order:
            self.stage(name)
        rest = {k: v for k, v in self.stages.items() if k not in order}
        self.stages = {name: self.stages[name] for name in order} | rest

    def note(self, at: datetime | None, stage: str | None, text: str, level: str) -> None:
        """Keep a notable message (only the last few are kept)."""
        self.notes.append(Note(at, stage, text, level))


# -- how each kind of event changes the view ------------------------------------------


def _run_started(view: RunView, event: Event, at: datetime | None) -> None:
    view.take_header(event.data)
    view.started = view.started or at
    view.status, view.finished = "running", None


def _run_resumed(view: RunView, event: Event, at: datetime | None) -> None:
    """Mark already-finished stages done; a stage left running by a dead process restarts."""
    _run_started(view, event, at)
    for sv in view.running():
        sv.status, sv.attempt_started = "pending", None
    for name, verdict in dict(event.data.get("done_stages") or {}).items():
        sv = view.stage(str(name))
        sv.status = str(verdict)
    view.note(at, None, "resumed", "info")


def _stage_started(view: RunView, event: Event, at: datetime | None) -> None:
    view.stage(event.stage or "run").start(at, event.attempt)


def _stage_skipped(view: RunView, event: Event, at: datetime | None) -> None:
    view.stage(event.stage or "run").stop(at, "skipped", event.message)


def _stage_finished(view: RunView, event: Event, at: datetime | None) -> None:
    sv = view.stage(event.stage or "run")
    sv.attempt = event.attempt or sv.attempt
    verdict = event.verdict or "?"
    sv.stop(at, verdict, event.message)
    if verdict in ("BLOCK", "RETRY"):
        level = "error" if verdict == "BLOCK" else "warn"
        view.note(at, event.stage, _join(verdict, event.message), level)


def _step(view: RunView, event: Event, at: datetime | None) -> None:
    view.stage(event.stage or "run").step = event.message


def _model_call(view: RunView, event: Event, at: datetime | None) -> None:
    view.stage(event.stage or "run").add_call(event)


def _artifact_written(view: RunView, event: Event, at: datetime | None) -> None:
    view.note(at, event.stage, f"wrote {event.data.get('path') or event.message}", "info")


def _tests_ran(view: RunView, event: Event, at: datetime | None) -> None:
    if event.stage:
        view.stage(event.stage).step = f"tests: {event.message}"
    passed = (event.verdict or "").upper() in ("PASS", "PASSED", "OK", "")
    view.note(at, event.stage, f"tests: {event.message}", "info" if passed else "error")


def _gate_paused(view: RunView, event: Event, at: datetime | None) -> None:
    view.gate, view.status = event.stage, "paused"
    view.note(at, None, _join(f"paused at gate {event.stage}", event.message), "warn")


def _gate_decided(view: RunView, event: Event, at: datetime | None) -> None:
    gate = event.stage or view.gate
    view.gate, view.status = None, "running"
    view.note(at, None, _join(f"gate {gate} {event.verdict}", event.message), "info")


def _run_finished(view: RunView, event: Event, at: datetime | None) -> None:
    """The run ended: stop the clocks of any stage still running."""
    view.status, view.message, view.finished = event.verdict or "done", event.message, at
    for sv in view.running():
        sv.stop(at, "stopped", event.message)
    level = "info" if view.status == "done" else "error"
    view.note(at, None, _join(f"run {view.status}", event.message), level)


def _note(view: RunView, event: Event, at: datetime | None) -> None:
    view.note(at, event.stage, event.message, "info")


_FOLDS: dict[str, Callable[[RunView, Event, datetime | None], None]] = {
    "run_started": _run_started, "run_resumed": _run_resumed, "stage_started": _stage_started,
    "stage_skipped": _stage_skipped, "stage_finished": _stage_finished, "model_call": _model_call,
    "artifact_written": _artifact_written, "tests_ran": _tests_ran, "gate_paused": _gate_paused,
    "gate_decided": _gate_decided, "run_finished": _run_finished, "note": _note, "step": _step,
}
"""Event kind → how it changes the view."""


def _join(head: str, detail: str) -> str:
    """Join as "head: detail", or just head when there is no detail."""
    return f"{head}: {detail}" if detail else head


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 call", "2 calls", "0 calls"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def fmt_tokens(n: int) -> str:
    """Compact token count: 340, 1.2k, 3.4M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def fmt_cost(usd: float) -> str:
    return f"${usd:.4f}"


def fmt_duration(seconds: float | None) -> str:
    """Short elapsed time: 4.2s, 1m05s, 2h03m; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_calls(sv: StageView) -> str:
    """Paid calls, with replayed ones after a plus: "3", "3+2 cached"."""
    if not sv.cached_calls:
        return str(sv.calls)
    return f"{sv.calls}+{sv.cached_calls} cached"
