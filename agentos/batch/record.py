"""The batch record: `.agentos/batches/<id>/batch.json`, one entry per issue, written atomically.

Only the batch process writes it (workers write their own run records and a result file, which
the batch reads when the worker ends), so it needs no lock. The same selection (the same
command) finds the latest unfinished batch for it and continues that one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agentos.files import write_atomic
from agentos.paths import RepoLayout

FINAL = frozenset({"done", "blocked"})
"""An issue in one of these states is not run again when the batch resumes."""


@dataclass
class IssueEntry:
    issue: int
    title: str
    status: str = "queued"
    """queued | running | done | paused | blocked | budget | failed | interrupted (the batch stopped)."""
    run_id: str | None = None
    message: str = ""
    exit_code: int | None = None
    cost_usd: float = 0.0
    starts: int = 0
    """How many times a worker took the issue (more than once after a resume)."""


@dataclass
class BatchRecord:
    batch_id: str
    key: str
    """The selection, e.g. `issues:3,5,8-12`, `label:agentos` or `open`: the same command finds this batch."""
    created_at: str
    engine: str
    workers: int
    budget_usd: float | None
    status: str = "running"
    """running | finished (every issue ran to an end) | interrupted (the batch process stopped early)."""
    finished_at: str | None = None
    issues: list[IssueEntry] = field(default_factory=list)

    def entry(self, issue: int) -> IssueEntry:
        return next(e for e in self.issues if e.issue == issue)

    def pending(self) -> list[IssueEntry]:
        """Entries still to run, in the batch's order."""
        return [e for e in self.issues if e.status not in FINAL]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.issues:
            out[e.status] = out.get(e.status, 0) + 1
        return out


def batches_dir(layout: RepoLayout) -> Path:
    return layout.agentos_dir / "batches"


def batch_dir(layout: RepoLayout, batch_id: str) -> Path:
    return batches_dir(layout) / batch_id


def new_batch(layout: RepoLayout, key: str, engine: str, workers: int, budget_usd: float | None,
              issues: list[tuple[int, str]]) -> BatchRecord:
    now = datetime.now(timezone.utc)
    record = BatchRecord(f"batch-{now.strftime('%Y%m%dT%H%M%S%fZ')}", key, now.isoformat(), engine, workers,
                         budget_usd, issues=[IssueEntry(n, title) for n, title in issues])
    save(layout, record)
    return record


def save(layout: RepoLayout, record: BatchRecord) -> None:
    write_atomic(batch_dir(layout, record.batch_id) / "batch.json", json.dumps(asdict(record), indent=2))


def load(path: Path) -> BatchRecord | None:
    try:
        data = json.loads(path.read_text())
        data["issues"] = [IssueEntry(**e) for e in data.get("issues", [])]
        return BatchRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def all_batches(layout: RepoLayout) -> list[BatchRecord]:
    """Every batch of the repository, oldest first."""
    root = batches_dir(layout)
    found = [load(p) for p in root.glob("*/batch.json")] if root.exists() else []
    return sorted((b for b in found if b), key=lambda b: b.created_at)


def resumable(layout: RepoLayout, key: str) -> BatchRecord | None:
    """The latest batch of this selection with issues still to run, if any."""
    mine = [b for b in all_batches(layout) if b.key == key]
    return mine[-1] if mine and mine[-1].pending() else None


def result_path(layout: RepoLayout, batch_id: str, issue: int) -> Path:
    """Where the worker that ran `issue` leaves how it ended."""
    return batch_dir(layout, batch_id) / "results" / f"{issue}.json"


def limits_path(layout: RepoLayout, batch_id: str) -> Path:
    return batch_dir(layout, batch_id) / "limits.db"
