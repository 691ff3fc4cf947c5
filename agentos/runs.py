"""Run records: one folder per run under .agentos/runs/, with run.json saying where it stands.

The checkpoint database holds the graph state; run.json is the small index that lets
`status`, `approve` and a re-run find the latest run of an issue without loading graphs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agentos.files import write_atomic
from agentos.paths import RepoLayout
from agentos.redact import redact

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
    """Note a gate decision (from `agentos approve|reject`) for the run to pick up, atomically."""
    write_atomic(decision_path(layout, record), json.dumps(decision))


def take_decision(layout: RepoLayout, record: RunRecord) -> dict | None:
    """A decision recorded by `agentos approve|reject` for the gate the run is paused at."""
    path = decision_path(layout, record)
    if not path.exists():
        return None
    decision = json.loads(path.read_text())
    if record.gate and decision.get("gate") not in (None, record.gate.get("gate")):
        return None
    return decision
