"""Console sinks: a live Rich table for terminals, plain timestamped lines for pipes and CI.

Both fold events into a `RunView` and never let a display problem escape `handle()`:
a broken terminal must not crash a run.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agentos.progress.events import Event, Sink
from agentos.progress.view import (
    RunView,
    StageView,
    fmt_calls,
    fmt_cost,
    fmt_duration,
    fmt_tokens,
    parse_ts,
)

STAGE_WIDTH = 8
STATUS_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "PASS": "bold green",
    "BLOCK": "bold red",
    "RETRY": "yellow",
    "skipped": "dim cyan",
    "stopped": "red",
    "done": "bold green",
    "blocked": "bold red",
    "paused": "yellow",
    "budget": "bold red",
    "interrupted": "yellow",
}
NOTE_STYLES = {"info": "", "warn": "yellow", "error": "red"}


def _clock(ts: str | datetime | None) -> str:
    """HH:MM:SS in local time, or dashes when the timestamp is unreadable."""
    at = ts if isinstance(ts, datetime) else parse_ts(ts)
    return at.astimezone().strftime("%H:%M:%S") if at else "--:--:--"


def _tokens(sv: StageView) -> str:
    return f"{fmt_tokens(sv.input_tokens)}→{fmt_tokens(sv.output_tokens)}"


def _join(*parts: object) -> str:
    """Space-join the non-empty parts."""
    return " ".join(str(p) for p in parts if p not in (None, ""))


class PlainSink:
    """One aligned, timestamped line per event, e.g. `12:03:10 lld      PASS approved (6.0s)`.

    `history` (the events a resumed run already logged) is folded in first, unprinted, so the
    totals count the whole run."""

    def __init__(self, stream: IO[str] | None = None, history: list[Event] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.view = RunView.from_events(history or [])

    def handle(self, event: Event) -> None:
        try:
            self.view.apply(event)
            self._write(self.format(event))
        except Exception:  # noqa: BLE001 - the display must never stop a run
            pass

    def close(self) -> None:
        try:
            self.stream.flush()
        except Exception:  # noqa: BLE001
            pass

    def format(self, event: Event) -> str:
        """The line for an event (after it has been applied to `self.view`)."""
        column, text = _LINES[event.kind](self.view, event)
        return f"{_clock(event.ts)} {column:<{STAGE_WIDTH}} {text}".rstrip()

    def _write(self, line: str) -> None:
        """Write a line, replacing characters the stream cannot encode."""
        try:
            self.stream.write(line + "\n")
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "ascii"
            self.stream.write(line.encode(encoding, "replace").decode(encoding) + "\n")
        self.stream.flush()


# -- the plain line for each kind of event: (first column, text) --------------------------


def _plain_header(view: RunView) -> str:
    """The run facts after "started" / "resumed": issue, title, forge, stage order, run folder."""
    parts = [f"issue #{view.issue}" if view.issue is not None else "", view.title, view.forge,
             "→".join(view.stages), view.run_dir]
    return " · ".join(p for p in parts if p)


def _run_started(view: RunView, event: Event) -> tuple[str, str]:
    return "run", _join("started", _plain_header(view))


def _run_resumed(view: RunView, event: Event) -> tuple[str, str]:
    done = ", ".join(f"{s} {v}" for s, v in dict(event.data.get("done_stages") or {}).items())
    return "run", _join("resumed", _plain_header(view), f"(done: {done})" if done else "")


def _stage_started(view: RunView, event: Event) -> tuple[str, str]:
    sv = view.stage(event.stage or "run")
    return sv.name, f"started (attempt {sv.attempt})"


def _stage_skipped(view: RunView, event: Event) -> tuple[str, str]:
    return event.stage or "run", "skipped" + (f": {event.message}" if event.message else "")


def _stage_finished(view: RunView, event: Event) -> tuple[str, str]:
    sv = view.stage(event.stage or "run")
    elapsed = fmt_duration(sv.elapsed_s())
    return sv.name, _join(sv.status, event.message, f"({elapsed})" if elapsed else "")


def _model_call(view: RunView, event: Event) -> tuple[str, str]:
    tokens = f"{fmt_tokens(event.input_tokens)}→{fmt_tokens(event.output_tokens)} tok"
    latency = event.data.get("latency_s")
    spend = "cached" if event.data.get("cached") else fmt_cost(event.cost_usd)
    return event.stage or "run", _join(
        "model", event.purpose, event.model, tokens, spend,
        fmt_duration(float(latency)) if latency is not None else "",
    )


def _artifact_written(view: RunView, event: Event) -> tuple[str, str]:
    return event.stage or "run", _join("wrote", event.data.get("path") or event.message)


def _tests_ran(view: RunView, event: Event) -> tuple[str, str]:
    return event.stage or "run", _join("tests", event.verdict, event.message)


def _gate_paused(view: RunView, event: Event) -> tuple[str, str]:
    return "gate", _join("paused at", event.stage, f"— {event.message}" if event.message else "")


def _gate_decided(view: RunView, event: Event) -> tuple[str, str]:
    who = f"by {event.data['by']}" if event.data.get("by") else ""
    overrides = f"({event.data['overrides']})" if event.data.get("overrides") else ""
    return "gate", _join(event.stage, event.verdict, who, overrides, f"— {event.message}" if event.message else "")


def _run_finished(view: RunView, event: Event) -> tuple[str, str]:
    """The verdict and the run's totals."""
    total = view.totals()
    summary = (f"calls {fmt_calls(total)} · {_tokens(total)} tok · {fmt_cost(total.cost_usd)}"
               f" · {fmt_duration(view.elapsed_s())}")
    return "run", _join(view.status, f"— {event.message}" if event.message else "", f"[{summary}]")


def _note(view: RunView, event: Event) -> tuple[str, str]:
    return event.stage or "run", event.message


def _step(view: RunView, event: Event) -> tuple[str, str]:
    return event.stage or "run", event.message


_LINES: dict[str, Callable[[RunView, Event], tuple[str, str]]] = {
    "run_started": _run_started, "run_resumed": _run_resumed, "stage_started": _stage_started,
    "stage_skipped": _stage_skipped, "stage_finished": _stage_finished, "model_call": _model_call,
    "artifact_written": _artifact_written, "tests_ran": _tests_ran, "gate_paused": _gate_paused,
    "gate_decided": _gate_decided, "run_finished": _run_finished, "note": _note, "step": _step,
}
"""Event kind → its plain line, read from the view the event was just folded into."""


class LiveSink:
    """A live-updating table of stages (status, attempt, elapsed, calls, tokens, cost), with the
    step each running stage is at.

    The Rich `Live` starts on the first event and redraws about four times a second, so
    the running stage's elapsed time and spinner move between events. It is transient: a
    prompt (`suspend()`) clears it instead of leaving a frozen copy; `close()` prints the final
    table once. `history` (a resumed run's earlier events) is folded in first.
    """

    def __init__(self, stream: IO[str] | None = None, *, console: Console | None = None,
                 refresh_per_second: float = 4, history: list[Event] | None = None):
        self.console = console or Console(file=stream if stream is not None else sys.stderr)
        self.view = RunView.from_events(history or [])
        self._lock = threading.Lock()
        self._spinner = Spinner("dots", text=Text("running", style=STATUS_STYLES["running"]))
        self._last: RenderableType = Text("")
        self._closed = False
        self._refresh = refresh_per_second
        self._live = self._new_live()

    def _new_live(self) -> Live:
        return Live(console=self.console, refresh_per_second=self._refresh,
                    transient=True, get_renderable=self._renderable)

    def suspend(self) -> None:
        """Step aside for a prompt: stop redrawing now, start again at the next event."""
        try:
            self._live.stop()
            self._live = self._new_live()
        except Exception:  # noqa: BLE001
            pass

    def handle(self, event: Event) -> None:
        try:
            if self._closed:
                return
            with self._lock:
                self.view.apply(event)
            if not self._live.is_started:
                self._live.start()
        except Exception:  # noqa: BLE001 - the display must never stop a run
            pass

    def close(self) -> None:
        """Stop redrawing and leave the final frame on screen, once."""
        if self._closed:
            return
        self._closed = True
        try:
            shown = self._live.is_started
            self._live.stop()
            if shown or self.view.stages:
                self.console.print(self.render())
        except Exception:  # noqa: BLE001
            pass

    def render(self, now: datetime | None = None) -> RenderableType:
        """Header, stage table with totals, and the recent notable messages."""
        v = self.view
        parts: list[RenderableType] = [self._header(), self._table(now)]
        parts += [Text(f"{sv.name} · {sv.step}", style="yellow", overflow="ellipsis", no_wrap=True)
                  for sv in v.running() if sv.step]
        parts += [Text(_join(_clock(n.ts), n.stage or "", n.text), style=NOTE_STYLES.get(n.level, ""),
                       overflow="ellipsis", no_wrap=True)
                  for n in v.notes]
        return Group(*parts)

    def _renderable(self) -> RenderableType:
        """What Live draws; on a rendering error, the previous frame."""
        try:
            with self._lock:
                self._last = self.render()
        except Exception:  # noqa: BLE001
            pass
        return self._last

    def _header(self) -> Text:
        v = self.view
        header = Text("agentos", style="bold")
        for part in (f"#{v.issue}" if v.issue is not None else "", v.title, v.forge,
                     f"gate {v.gate}" if v.gate else ""):
            if part:
                header.append(" · " + part)
        header.append(" · ")
        header.append(v.status, style=STATUS_STYLES.get(v.status, ""))
        return header

    def _table(self, now: datetime | None) -> Table:
        """The stage table; on a narrow terminal the least needed columns go, none is cut."""
        keep = _columns(self.console.width)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for name in keep:
            table.add_column(name, justify="left" if name in ("Stage", "Status") else "right", no_wrap=True)
        for sv in self.view.stages.values():
            cells = dict(zip(COLUMNS, (sv.name, self._status(sv), str(sv.attempt or ""),
                                       fmt_duration(sv.elapsed_s(now)), *self._spend(sv))))
            table.add_row(*(cells[name] for name in keep))
        table.add_section()
        total = self.view.totals()
        cells = dict(zip(COLUMNS, ("total", Text(total.status, style=STATUS_STYLES.get(total.status, "")), "",
                                   fmt_duration(self.view.elapsed_s(now)), *self._spend(total))))
        table.add_row(*(cells[name] for name in keep), style="bold")
        return table

    def _status(self, sv: StageView) -> RenderableType:
        if sv.status == "running":
            return self._spinner
        return Text(sv.status, style=STATUS_STYLES.get(sv.status, ""))

    @staticmethod
    def _spend(sv: StageView) -> tuple[str, str, str]:
        """Calls, tokens and cost cells; blank for a row with no model calls."""
        if not (sv.calls or sv.cached_calls):
            return "", "", ""
        return fmt_calls(sv), _tokens(sv), fmt_cost(sv.cost_usd)


COLUMNS = ("Stage", "Status", "Attempt", "Elapsed", "Calls", "Tokens", "Cost")
NARROW = ((70, ("Attempt",)), (60, ("Attempt", "Cost")), (50, ("Attempt", "Cost", "Calls")))
"""Below each width, the columns left out (the table then fits without cutting a header)."""


def _columns(width: int) -> list[str]:
    dropped: tuple[str, ...] = ()
    for below, names in NARROW:
        if width < below:
            dropped = names
    return [name for name in COLUMNS if name not in dropped]


def make_console_sink(stream: IO[str] | None = None, force_plain: bool = False,
                      history: list[Event] | None = None) -> Sink:
    """A LiveSink on an interactive terminal, else a PlainSink (pipes, CI, TERM=dumb); a resumed
    run hands in the events it already logged, so its totals and earlier stages stay."""
    stream = stream if stream is not None else sys.stderr
    if force_plain or os.environ.get("TERM") == "dumb" or not _isatty(stream):
        return PlainSink(stream, history)
    return LiveSink(stream, history=history)


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - closed or exotic streams are not terminals
        return False
