"""`agentos batch`: pick the issues, check everything that can be checked before a model is paid,
then hand the issues to an engine, keeping the batch record and the live table up to date.

Every issue runs as `orchestrate --issue N --no-input` would (batch/worker.py calls the same
`orchestrate`), so its run record, worktree, branch, checkpoints and PR are its own, and
`orchestrate --issue N` or `agentos status N` work on it afterwards. A gate pauses only its own
issue. Killed or paused, the batch continues with the same command: issues done or blocked stay
as they are, the others continue where their runs stopped.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from agentos.batch import record as batches
from agentos.batch.record import BatchRecord
from agentos.batch.select import parse_numbers, prioritize, select
from agentos.batch.view import LiveTable, batch_info
from agentos.batch.worker import options_path
from agentos.config import LoadedConfig, load_config
from agentos.errors import ExitCode, UsageError
from agentos.files import write_atomic
from agentos.forge.base import Issue
from agentos.forge.factory import make_forge
from agentos.llm.limits import SharedLimits
from agentos.paths import RepoLayout, find_repo_root
from agentos.process import BoundedRun

WORKERS_PER_CORE = 8
"""An issue's run mostly waits on models: with 1 s answers an issue waits ~15 s for ~2 s of CPU, so a
core keeps about eight busy (bench/bench_batch.py: 16 workers on 2 cores beat 8 by 40 % at N = 50)."""

ORDER = ("failed", "budget", "blocked", "paused")
"""The batch's exit code is its worst issue's, in this order (all done: 0)."""


@dataclass
class BatchOptions:
    issues: str | None = None
    """`3,5,8-12`; with neither this nor `label`, every open issue."""
    label: str | None = None
    repo: Path | None = None
    config_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    """Config overrides from flags (batch.engine, batch.workers, batch.budget_usd, ...)."""
    dry_run: bool = False
    plain: bool = False

    @property
    def key(self) -> str:
        """The selection, as the batch record keeps it: the same command finds the same batch."""
        if self.issues:
            return "issues:" + ",".join(map(str, parse_numbers(self.issues)))
        return f"label:{self.label}" if self.label else "open"


@dataclass
class BatchResult:
    exit_code: int
    message: str
    batch_id: str | None = None


def run_batch(opts: BatchOptions, stream: IO[str] | None = None) -> BatchResult:
    """Run (or continue) the batch the options select; its exit code is its worst issue's."""
    if opts.issues and opts.label:
        raise UsageError("--issues and --label both select issues", "pass one of them (neither: every open issue)")
    layout = RepoLayout(find_repo_root(opts.repo))
    loaded = load_config(layout.root, opts.config_file, opts.sets, opts.flags)
    forge = make_forge(loaded.config, layout)
    numbers = parse_numbers(opts.issues) if opts.issues else None
    issues = prioritize(select(forge, numbers, opts.label), loaded.config.batch)
    engine = make_engine(loaded, layout, len(issues), forge, opts)  # one that cannot run: exit 2 before anything
    if opts.dry_run:
        from agentos.batch.dryrun import render_dry_run

        return BatchResult(ExitCode.DONE, render_dry_run(layout, loaded, opts, issues, engine))
    preflight(opts, issues)
    record = batches.resumable(layout, opts.key) or batches.new_batch(
        layout, opts.key, engine.name, engine.workers, loaded.config.batch.budget_usd,
        [(i.number, i.title) for i in issues])
    return _run(layout, loaded, opts, record, engine, stream)


def preflight(opts: BatchOptions, issues: list[Issue]) -> None:
    """What `orchestrate` would refuse, refused for the whole batch before any model is called:
    models not ready, no sandbox, a forge that cannot take the branch."""
    from agentos.sandbox import from_config
    from agentos.workflows.orchestrator.session import RunOptions, check_models, open_session
    from agentos.workflows.orchestrator.state import STAGES

    session = open_session(RunOptions(issue=issues[0].number, repo=opts.repo, config_file=opts.config_file,
                                      sets=opts.sets, flags=opts.flags))
    check_models(session, {stage: {"action": "run"} for stage in STAGES})
    from_config(session.config.sandbox)
    session.forge.check_push(session.workspace.branch)


def make_engine(loaded: LoadedConfig, layout: RepoLayout, issues: int, forge, opts: BatchOptions):
    """The configured engine, with the number of workers: given, else what the machine and the
    providers' concurrency limits sustain."""
    cfg = loaded.config.batch
    workers = cfg.workers or default_workers(loaded, issues)
    if cfg.engine == "ray":
        from agentos.batch.ray_engine import RayEngine

        if opts.config_file:
            raise UsageError("--config names a file on this machine, which Ray workers elsewhere cannot read",
                             "commit the settings as .agentos/config.yaml on the base branch, or pass them with --set")
        return RayEngine.connect(loaded.config, layout, workers, forge)
    from agentos.batch.pool import LocalPool

    return LocalPool(workers, cfg.issue_timeout_s)


def default_workers(loaded: LoadedConfig, issues: int) -> int:
    cfg = loaded.config.batch
    workers = WORKERS_PER_CORE * (os.cpu_count() or 1)
    if cfg.limits:
        workers = min(workers, sum(limit.concurrency for limit in cfg.limits.values()))
    return max(1, min(workers, issues))


def _run(layout: RepoLayout, loaded: LoadedConfig, opts: BatchOptions, record: BatchRecord, engine,
         stream: IO[str] | None) -> BatchResult:
    cfg = loaded.config.batch
    limits = {name: (limit.concurrency, limit.per_minute) for name, limit in cfg.limits.items()}
    where = engine.limits_at(layout, record.batch_id)
    SharedLimits.create(where, cfg.budget_usd, limits).close()
    options = {"config_file": str(opts.config_file.resolve()) if opts.config_file else None,
               "sets": opts.sets, "flags": opts.flags}
    write_atomic(options_path(layout, record.batch_id), json.dumps(options))
    record.status, record.finished_at, record.workers = "running", None, engine.workers
    todo = [e.issue for e in record.pending()]
    batches.save(layout, record)
    with LiveTable(layout, record, stream, opts.plain) as table:
        tracker = _Tracker(layout, record, table)
        try:
            engine.run(layout.root, record.batch_id, todo, tracker.started, tracker.ended, options, where)
        finally:
            for entry in record.issues:
                entry.status = "interrupted" if entry.status == "running" else entry.status
            record.status = "finished" if all(e.status not in ("queued", "interrupted") for e in record.issues) \
                else "interrupted"
            record.finished_at = datetime.now(timezone.utc).isoformat()
            tracker.save()
    return _result(layout, record)


class _Tracker:
    """Notes each issue's start and end in the batch record (from the engine's threads)."""

    def __init__(self, layout: RepoLayout, record: BatchRecord, table: LiveTable):
        self.layout, self.record, self.table = layout, record, table
        self._lock = threading.Lock()

    def save(self) -> None:
        with self._lock:
            batches.save(self.layout, self.record)

    def started(self, issue: int) -> None:
        entry = self.record.entry(issue)
        entry.status, entry.starts = "running", entry.starts + 1
        batches.result_path(self.layout, self.record.batch_id, issue).unlink(missing_ok=True)
        self.save()
        self.table.changed(entry)

    def ended(self, issue: int, run: BoundedRun | dict) -> None:
        entry = self.record.entry(issue)
        outcome = _outcome(self.layout, self.record.batch_id, issue, run)
        entry.status, entry.exit_code = outcome["status"], outcome["exit_code"]
        entry.message, entry.run_id = outcome["message"], outcome.get("run_id") or entry.run_id
        entry.cost_usd = _run_cost(self.layout, entry.run_id)
        self.save()
        self.table.changed(entry)


def _outcome(layout: RepoLayout, batch_id: str, issue: int, run: BoundedRun | dict) -> dict:
    """How the worker said the issue ended; a worker that died first is a failure, with its last output."""
    path = batches.result_path(layout, batch_id, issue)
    if path.exists():
        return json.loads(path.read_text())
    if isinstance(run, dict):
        return run
    why = "timed out" if run.timed_out else f"exited with {run.exit_code}"
    return {"status": "failed", "exit_code": ExitCode.INTERNAL,
            "message": f"the worker {why} before finishing: {run.clipped(600).strip()[-600:]}"}


def _run_cost(layout: RepoLayout, run_id: str | None) -> float:
    """What the issue's run has spent so far, from its spend ledger."""
    from agentos.files import read_jsonl

    if not run_id:
        return 0.0
    ledger = layout.run_dir(run_id) / "spend.jsonl"
    total = 0.0
    for line in read_jsonl(ledger) if ledger.exists() else []:
        try:
            total += float(line["cost_usd"])
        except (KeyError, TypeError, ValueError):
            continue
    return round(total, 6)


def _result(layout: RepoLayout, record: BatchRecord) -> BatchResult:
    from agentos.batch.view import render

    statuses = {e.status for e in record.issues}
    worst = next((s for s in ORDER if s in statuses), "done")
    code = ExitCode.INTERNAL if worst == "failed" else ExitCode.for_status(worst)
    text = render(batch_info(layout, record))
    paused = [e.issue for e in record.issues if e.status == "paused"]
    if paused:
        text += ("\n  paused at a gate: " + ", ".join(f"#{n}" for n in paused)
                 + "; decide with `agentos approve N` / `agentos reject N --feedback ...`, then run the same "
                   "batch command again")
    if record.status == "interrupted" or any(e.status in ("budget", "failed") for e in record.issues):
        text += "\n  run the same batch command again to continue where each issue stopped"
    return BatchResult(code, text, record.batch_id)


def batch_status(repo: Path | None, batch_id: str | None = None) -> dict[str, Any]:
    """The latest batch (or the one named) as `agentos batch status` shows it."""
    layout = RepoLayout(find_repo_root(repo))
    found = batches.all_batches(layout)
    if batch_id:
        found = [b for b in found if b.batch_id == batch_id]
    if not found:
        raise UsageError(f"no batch {batch_id} in {layout.root}" if batch_id else f"no batch has run in {layout.root}",
                         "start one with `agentos batch --issues 3,5,8-12` (or --label NAME)")
    return batch_info(layout, found[-1])
