"""Set-up before a run: the target repository, its config, forge and issue; model readiness; services.

Everything here happens before a model is called, so a mistake (a closed issue, a missing key)
costs nothing and leaves no run behind.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from agentos import runs
from agentos.config import LoadedConfig, OrchestratorConfig, load_config
from agentos.errors import DiskError, ProviderConfigError, StateDamagedError, UsageError
from agentos.forge.base import Forge, Issue
from agentos.forge.factory import make_forge
from agentos.llm.registry import readiness, split_model_id
from agentos.paths import RepoLayout, find_repo_root
from agentos.progress.events import Progress
from agentos.repo.worktrees import start_point
from agentos.workflows.orchestrator.config import stage_caps, stage_models
from agentos.workflows.services import Services
from agentos.workflows.workspace import Workspace


@dataclass
class RunOptions:
    """What the user asked for: which issue, where, with which config, and how to run it."""

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
    wait: bool = False
    """When another run of the issue is alive: wait for it to end (else exit 2 naming it)."""
    """Work on a closed issue (refused otherwise)."""
    limits: Path | str | None = None
    """Run by a batch: where the batch's shared limits are (its budget, provider slots and pauses):
    a SQLite file, or a postgresql:// URL."""


@dataclass
class Session:
    """What every command needs about the target: repo, config, forge, issue, workspace."""

    layout: RepoLayout
    loaded: LoadedConfig
    forge: Forge
    issue: Issue
    workspace: Workspace
    limits: Path | str | None = None
    """The batch's shared limits, when a batch runs this issue."""
    notes: list[str] = field(default_factory=list)
    """What the run should say before it starts (e.g. a setting changed since it began)."""
    problems: list[str] = field(default_factory=list)
    """What keeps the run from starting, found while opening a dry run (a real run stops at once)."""

    @property
    def config(self) -> OrchestratorConfig:
        return self.loaded.config


def open_session(opts: RunOptions) -> Session:
    """Find the repository, load its config, reach its forge and fetch the issue (refusing a closed one)."""
    layout = RepoLayout(find_repo_root(opts.repo))
    loaded = load_config(layout.root, opts.config_file, opts.sets, opts.flags)
    forge = make_forge(loaded.config, layout)
    issue = forge.get_issue(opts.issue)
    if issue.state == "closed" and not opts.allow_closed:
        raise UsageError(f"issue #{issue.number} is closed", "reopen it, or pass --allow-closed to work on it anyway")
    workspace = Workspace.for_issue(layout, loaded.config, opts.issue)
    problems = []
    try:  # a base branch that does not exist: refused before any model call (a dry run lists it)
        start_point(workspace.repo, workspace.base)
    except UsageError as exc:
        if not opts.dry_run:
            raise
        problems.append(f"{exc.message} ({exc.hint})")
    return Session(layout, loaded, forge, issue, workspace, opts.limits, problems=problems)


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
        # `gemini-cli:` is an implementing agent as the implementer (in the impl stage and the code
        # review's fix rounds) and a model provider elsewhere.
        implementer = session.config.stages.implementation.implementer
        return stage in ("impl", "review") and model_id == implementer and external.is_external(model_id)

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
def checkpointer(layout: RepoLayout, url: str | None = None) -> Iterator[Any]:
    """The repository's SQLite checkpointer (.agentos/state.db), or PostgreSQL's at `url` (state.url);
    closed when the run ends.

    A SQLite database that is damaged, on a full disk or not writable stops the command with an
    error naming the file and what to do (exit 2), wherever in the run it shows.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agentos.workflows.orchestrator.checkpoints import RedactingSerializer

    layout.ensure()
    if url is not None:
        from agentos import state

        with state.checkpointer(url, RedactingSerializer()) as saver:
            yield saver
        return
    with state_db_errors(layout):
        conn = sqlite3.connect(str(layout.state_db), check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is not a database fails here
            yield SqliteSaver(conn, serde=RedactingSerializer())
        finally:
            conn.close()


@contextmanager
def state_db_errors(layout: RepoLayout) -> Iterator[None]:
    """A failure of the checkpoint database becomes an error naming it and what to do."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        explained = _state_db_error(exc, layout)
        if explained is None:
            raise
        raise explained from None


_SQLITE_DISK = {13: errno.ENOSPC, 8: errno.EROFS, 14: errno.EACCES}
"""SQLite's primary result codes FULL, READONLY, CANTOPEN → the disk refusal they stand for."""


def _state_db_error(exc: sqlite3.DatabaseError, layout: RepoLayout) -> UsageError | None:
    """What to tell the user when the checkpoint database fails: damaged, or its disk refusing
    (None for other failures, e.g. a lock held too long)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == 10:  # IOERR: SQLite does not say why; a full disk is the common cause
        return _disk_under(layout.state_db) or DiskError(
            f"the disk failed under {layout.state_db} ({exc})",
            "check that the disk is healthy and has free space, then run the same command again")
    if code in _SQLITE_DISK:
        return _disk_under(layout.state_db) or DiskError.of(OSError(_SQLITE_DISK[code], str(exc)), layout.state_db)
    if code in (11, 26) or type(exc) is sqlite3.DatabaseError:  # CORRUPT, NOTADB, or unclassified damage
        return StateDamagedError(
            f"the checkpoint database {layout.state_db} is damaged ({exc})",
            "run `agentos repair` to move it aside; then the same command starts the run again from the "
            "documents already on the issue's branch")
    return None


def _disk_under(path: Path) -> UsageError | None:
    """The refusal of the disk holding `path` when it is full or not writable, as seen from here."""
    folder = path.resolve().parent
    try:
        disk = os.statvfs(folder)
    except OSError:
        return None
    if disk.f_bavail == 0:
        return DiskError.of(OSError(errno.ENOSPC, "full"), path)
    if disk.f_flag & os.ST_RDONLY:
        return DiskError.of(OSError(errno.EROFS, "read-only"), path)
    return None if os.access(folder, os.W_OK) else DiskError.of(OSError(errno.EACCES, "not writable"), path)


@contextmanager
def shared_runs(session: Session) -> Iterator[None]:
    """With `state.url`: the issue's run folders brought back from PostgreSQL first, and every write
    to them kept there too while the run goes on (so another machine can continue it)."""
    url = session.config.state.url
    if url is None:
        yield
        return
    from agentos import state
    from agentos.files import mirrored

    state.prepare(url)
    session.forge.fetch_branch(session.workspace.branch)
    session.workspace.ensure()  # a branch pushed by another machine's run is continued, not refused
    store = state.RunStore(url, repo_key(session))
    try:
        store.restore(session.layout.runs_dir, f"orchestrate-{session.issue.number}-")
        with mirrored(session.layout.runs_dir, store):
            yield
    finally:
        store.close()


def repo_key(session: Session) -> str:
    """How every machine names this repository: its remote's URL (else, alone on this one, its path)."""
    proc = session.workspace.repo.call("remote", "get-url", session.config.github.remote)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else str(session.layout.root)


def build_services(session: Session, record: runs.RunRecord, plain: bool, stream=None) -> Services:
    """The run's collaborators: models, progress (event log, console, issue comment), workspace."""
    from agentos.forge.reporting import IssueReporter
    from agentos.progress.console import make_console_sink
    from agentos.progress.log import JsonlSink, read_events
    from agentos.redact import redact
    from agentos.workflows.services import build_models

    run_dir = session.layout.run_dir(record.run_id)
    reporter = IssueReporter(session.forge, session.issue.number, session.issue.labels, session.layout.root,
                             session.workspace.branch)
    history = read_events(run_dir / "events.jsonl")  # a resumed run's view keeps its earlier stages
    progress = Progress(record.run_id, [JsonlSink(run_dir / "events.jsonl", redact=redact),
                                        make_console_sink(stream or sys.stderr, force_plain=plain, history=history),
                                        reporter])
    models = build_models(session.layout, run_dir, progress, session.config, stage_caps(session.config),
                          session.limits)
    return Services(session.layout, session.config, session.forge, models, progress,
                    session.workspace, record.run_id, run_dir)
