"""The batch's view: one row per issue (stage, status, cost) and totals, live while it runs,
and the same rows for `agentos batch status [--json]` afterwards.

Rows are read from what the runs record (run.json, events.jsonl), so the view needs nothing
from the workers but their files, and shows a batch run by another process just as well.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import asdict
from typing import IO, Any

from agentos import runs
from agentos.batch.record import BatchRecord, IssueEntry
from agentos.paths import RepoLayout
from agentos.progress.log import read_events
from agentos.progress.view import RunView, fmt_cost, fmt_duration, plural

STYLES = {"done": "green", "running": "cyan", "paused": "yellow", "blocked": "red", "budget": "magenta",
          "failed": "red", "queued": "dim"}


def issue_row(layout: RepoLayout, entry: IssueEntry) -> dict[str, Any]:
    """Where an issue of the batch stands: its entry, and from its latest run the stage, cost and time."""
    row = {**asdict(entry), "stage": "", "elapsed_s": None}
    record = runs.latest(layout, entry.issue)
    if record is None or entry.status == "queued":
        return row
    view = RunView.from_events(read_events(layout.run_dir(record.run_id) / "events.jsonl"))
    running = view.running()
    stages = [s for s in view.stages.values() if s.status not in ("pending", "skipped")]
    row["stage"] = running[-1].name if running else (stages[-1].name if stages else "")
    row["cost_usd"] = round(view.totals().cost_usd, 6)
    row["run_id"] = row["run_id"] or record.run_id
    row["elapsed_s"] = view.elapsed_s()
    return row


def batch_info(layout: RepoLayout, record: BatchRecord) -> dict[str, Any]:
    """The batch for `agentos batch status --json`: its record, a row per issue and the totals."""
    rows = [issue_row(layout, e) for e in record.issues]
    info = {k: v for k, v in asdict(record).items() if k != "issues"}
    return {**info, "issues": rows, "totals": {"issues": len(rows), **record.counts(),
                                               "cost_usd": round(sum(r["cost_usd"] for r in rows), 6)}}


def render(info: dict[str, Any]) -> str:
    """The batch as plain text."""
    lines = [f"{info['batch_id']} ({info['key']}, engine {info['engine']}, {plural(info['workers'], 'worker')}): "
             f"{info['status']}"]
    for r in info["issues"]:
        lines.append(f"  #{r['issue']:<5} {r['status']:<8} {r['stage'] or '-':<7} {fmt_cost(r['cost_usd']):>8}  "
                     f"{_short(r['message'] or r['title'], 70)}")
    t = info["totals"]
    counts = ", ".join(f"{k} {v}" for k, v in t.items() if k not in ("issues", "cost_usd"))
    budget = f" of ${info['budget_usd']:.2f}" if info.get("budget_usd") else ""
    lines.append(f"  total: {t['issues']} issue(s): {counts}; cost {fmt_cost(t['cost_usd'])}{budget}")
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


class LiveTable:
    """A Rich table of the batch's issues redrawn while it runs; plain lines when not a terminal."""

    def __init__(self, layout: RepoLayout, record: BatchRecord, stream: IO[str] | None = None, plain: bool = False):
        self.layout = layout
        self.record = record
        self.stream = stream or sys.stderr
        self.plain = plain or not _isatty(self.stream)
        self._lock = threading.Lock()
        self._live = None

    def __enter__(self) -> LiveTable:
        if not self.plain:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.stream), refresh_per_second=2,
                              get_renderable=self._table, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def changed(self, entry: IssueEntry) -> None:
        """An issue started or ended: a line in plain mode (the live table redraws by itself)."""
        if self.plain:
            with self._lock:
                note = f": {_short(entry.message, 100)}" if entry.message and entry.status != "running" else ""
                print(f"#{entry.issue} {entry.status}{note}", file=self.stream, flush=True)

    def _table(self):
        from rich.table import Table

        info = batch_info(self.layout, self.record)
        table = Table(title=f"{info['batch_id']}  ({info['key']})", expand=False)
        for col, justify in (("issue", "right"), ("title", "left"), ("stage", "left"), ("status", "left"),
                             ("time", "right"), ("cost", "right")):
            table.add_column(col, justify=justify)
        for r in info["issues"]:
            style = STYLES.get(r["status"], "")
            table.add_row(f"#{r['issue']}", _short(r["title"], 40), r["stage"] or "-",
                          f"[{style}]{r['status']}[/]" if style else r["status"],
                          fmt_duration(r["elapsed_s"]) if r["elapsed_s"] is not None else "",
                          fmt_cost(r["cost_usd"]))
        t = info["totals"]
        counts = ", ".join(f"{k} {v}" for k, v in t.items() if k not in ("issues", "cost_usd"))
        table.add_row("", f"{t['issues']} issues", "", counts, "", fmt_cost(t["cost_usd"]), style="bold")
        return table


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
