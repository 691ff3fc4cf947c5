"""`agentos repair`: move a damaged checkpoint database aside, so the issues' runs can start again.

Every run's checkpoints are in .agentos/state.db. When that file is damaged (truncated, its
header overwritten), it is renamed beside itself (kept for inspection, never deleted) and each
unfinished run is marked "reset": the next `orchestrate --issue N` starts a new run with that
run's settings, reusing what is already on the issue's branch (approved documents, commits);
a gate no human approved in the lost run is asked again (from its event log).
"""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from agentos import runlock, runs
from agentos.paths import RepoLayout, find_repo_root

_COMMANDS = {"orchestrate": "orchestrate", "triage": "agentos triage", "lld": "agentos lld",
             "spec": "agentos spec", "impl": "agentos implement"}


def repair(repo: Path | None) -> str:
    """Move a damaged state.db aside and reset the runs whose checkpoints were in it; say what to run next.

    Refused (exit 2, naming the holder) while a run of any of those issues is going on."""
    layout = RepoLayout(find_repo_root(repo))
    with ExitStack() as held:
        for issue in sorted({r.issue for r in _unfinished(layout)}):
            held.enter_context(runlock.issue_lock(layout, issue, "agentos repair"))
        return _repair(layout)


def _repair(layout: RepoLayout) -> str:
    problem = damage(layout.state_db)
    if problem is not None:
        aside = layout.state_db.with_name(f"state.db.damaged-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log belongs to the same database
            part = layout.state_db.with_name(layout.state_db.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
        lines, lost = [f"{layout.state_db} was damaged ({problem}); moved it to {aside}"], _unfinished(layout)
        why = f"its checkpoints were in the damaged state.db (now {aside.name})"
    else:  # sound, but it may have lost runs that had checkpoints (a truncated or replaced file)
        lost = [r for r in _unfinished(layout)
                if r.extra.get(runs.PAUSE_KEY) and not checkpoint_values(layout, r.thread_id)]
        if not lost:
            return f"{layout.state_db} is sound (or not there yet): nothing to repair"
        lines, why = [f"{layout.state_db} has lost the checkpoints of {len(lost)} run(s)"], "its checkpoints were lost"
    for record in lost:
        record.status, record.gate, record.message = runs.RESET, None, why
        runs.save(layout, record)
        lines.append(f"  #{record.issue}: run {record.run_id} reset; continue with: "
                     f"{_COMMANDS.get(record.kind, 'orchestrate')} --issue {record.issue} --repo {layout.root}")
    return "\n".join(lines)


def checkpoint_values(layout: RepoLayout, thread_id: str) -> dict:
    """The run's latest checkpointed state ({} when it has none)."""
    if not layout.state_db.exists():
        return {}
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agentos.workflows.orchestrator.session import state_db_errors

    with state_db_errors(layout):
        conn = sqlite3.connect(str(layout.state_db), check_same_thread=False)
        try:
            found = SqliteSaver(conn).get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        finally:
            conn.close()
    return dict(found.checkpoint.get("channel_values", {})) if found else {}


def damage(state_db: Path) -> str | None:
    """Why the checkpoint database cannot be used, or None when it reads through (or does not exist)."""
    if not state_db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    problems = [row[0] for row in rows if row[0] != "ok"]
    return "; ".join(problems[:3]) or None


def _unfinished(layout: RepoLayout) -> list[runs.RunRecord]:
    found = [runs.load(p) for p in layout.runs_dir.glob("*/run.json")] if layout.runs_dir.exists() else []
    unfinished = (r for r in found if r and r.status not in ("done", "blocked", runs.RESET))
    return sorted(unfinished, key=lambda r: r.created_at)
