"""Run records: one folder per run under .agentos/runs/, with run.json saying where it stands.

The checkpoint database holds the graph state; run.json is the small index that lets
`status`, `approve` and a re-run find the latest run of an issue without loading graphs.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agentos.errors import UsageError
from agentos.files import write_atomic
from agentos.paths import RepoLayout
from agentos.redact import redact

RESET = "reset"
"""Run status: its checkpoints were lost with a damaged state.db (`agentos repair`); the next
command starts a new run with its settings."""

PAUSE_KEY = "paused_at"
"""Run record key (and decision file key): the checkpoint the run is paused at; a decision is
for that pause only."""


@dataclass
class RunRecord:
    run_id: str
    issue: int
    kind: str
    """"orchestrate", or the workflow name when one runs on its own."""
    created_at: str
    status: str = "running"
    gate: dict | None = None
    """While paused: the interrupt's payload (gate, stage, artifact)."""
    message: str = ""
    extra: dict = field(default_factory=dict)
    process: dict | None = None
    """The process that last ran this run: {pid, host, since, start_ticks}; see `is_alive`."""

    @property
    def thread_id(self) -> str:
        return self.run_id


def new_run(layout: RepoLayout, issue: int, kind: str) -> RunRecord:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    record = RunRecord(f"{kind}-{issue}-{stamp}", issue, kind, datetime.now(timezone.utc).isoformat())
    save(layout, record)
    return record


def save(layout: RepoLayout, record: RunRecord) -> None:
    """Write the record's run.json atomically (a crash leaves the previous version)."""
    write_atomic(layout.run_dir(record.run_id) / "run.json", redact(json.dumps(asdict(record), indent=2)))


def claim(layout: RepoLayout, record: RunRecord) -> None:
    """Note that this process now runs the record (status running, pid and host), so `status`
    can tell a live run from one whose process died."""
    record.status = "running"
    record.process = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": datetime.now(timezone.utc).isoformat(), "start_ticks": _start_ticks(os.getpid())}
    save(layout, record)


def is_alive(process: dict | None) -> bool | None:
    """Whether the recorded process still runs: True, False, or None when it ran on another host.

    A pid the system gave to a later process does not count: its start time must match.
    """
    if not process or not process.get("pid"):
        return False
    if process.get("host") != socket.gethostname():
        return None
    pid = int(process["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    state, ticks = _proc_stat(pid)
    return state != "Z" and (ticks is None or process.get("start_ticks") in (None, ticks))


def _start_ticks(pid: int) -> int | None:
    return _proc_stat(pid)[1]


def _proc_stat(pid: int) -> tuple[str, int | None]:
    """The process's state letter (Z: a zombie, already dead) and when it started, in clock
    ticks since boot, from Linux's /proc; ("", None) where there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", None
    fields = stat[stat.rfind(")") + 2:].split()
    return (fields[0], int(fields[19])) if len(fields) > 19 else ("", None)


def load(path: Path) -> RunRecord | None:
    try:
        return RunRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def runs_of(layout: RepoLayout, issue: int, kind: str | None = "orchestrate") -> list[RunRecord]:
    """Runs of an issue, oldest first."""
    if not layout.runs_dir.exists():
        return []
    found = [load(p) for p in layout.runs_dir.glob("*/run.json")]
    return sorted((r for r in found if r and r.issue == issue and (kind is None or r.kind == kind)),
                  key=lambda r: r.created_at)


def latest(layout: RepoLayout, issue: int, kind: str | None = "orchestrate") -> RunRecord | None:
    runs = runs_of(layout, issue, kind)
    return runs[-1] if runs else None


def decision_path(layout: RepoLayout, record: RunRecord) -> Path:
    return layout.run_dir(record.run_id) / "decision.json"


def save_decision(layout: RepoLayout, record: RunRecord, decision: dict) -> None:
    """Note a gate decision (from `agentos approve|reject`) for the pause the run is at, atomically."""
    write_atomic(decision_path(layout, record), json.dumps({**decision, PAUSE_KEY: record.extra.get(PAUSE_KEY)}))


def take_decision(layout: RepoLayout, record: RunRecord) -> dict | None:
    """A decision recorded by `agentos approve|reject` for the pause the run is at.

    The file stays until the run has checkpointed past that pause (`consume_decision`), so a
    process killed in between takes it again; one left from an earlier pause is removed.
    A file that is not a decision raises UsageError naming it.
    """
    path = decision_path(layout, record)
    decision = _read_decision(path, record)
    if decision is None:
        return None
    if decision.get(PAUSE_KEY) not in (None, record.extra.get(PAUSE_KEY)):
        path.unlink(missing_ok=True)  # decided an earlier pause, which the run has left behind
        return None
    if record.gate and decision.get("gate") not in (None, record.gate.get("gate")):
        return None
    return decision


def consume_decision(layout: RepoLayout, record: RunRecord, pause: str | None) -> None:
    """Remove the decision file once the run has checkpointed past the pause it decided."""
    path = decision_path(layout, record)
    try:
        decided = json.loads(path.read_text(encoding="utf-8")).get(PAUSE_KEY)
    except (OSError, ValueError, AttributeError):
        return
    if decided in (None, pause):
        path.unlink(missing_ok=True)


def _read_decision(path: Path, record: RunRecord) -> dict | None:
    try:
        decision = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        decision = None
    if not isinstance(decision, dict) or decision.get("action") not in ("approve", "reject"):
        raise UsageError(f"{path} is not a gate decision (empty or damaged); it was ignored",
                         f"decide again: agentos approve {record.issue}, or agentos reject {record.issue} "
                         '--feedback "what to change"')
    return decision
