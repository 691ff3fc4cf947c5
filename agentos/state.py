"""State shared between machines, in PostgreSQL (`state.url: postgresql://...`).

Checkpoints go to LangGraph's Postgres checkpointer. The run folders (`.agentos/runs/<id>/`:
the run record, the call journal, the spend ledger, the event log) are written locally as
always and, through `files.mirrored`, into the database as each write is made: the journal's
line is in PostgreSQL before the call's answer is used. Another machine brings an issue's run
folders back (`RunStore.restore`) and continues the run from its checkpoint, replaying the
finished calls instead of paying them again.

The driver (psycopg) and the checkpointer are the `scale` extra, imported only when a
`state.url` is set. Every problem reaching the database is an exit-2 error naming the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentos.errors import UsageError

SCALE_HINT = "install the extra: pip install 'agentos[scale]'"

_TABLES = """
CREATE TABLE IF NOT EXISTS agentos_run_files (
    repo TEXT NOT NULL, path TEXT NOT NULL, content TEXT NOT NULL, PRIMARY KEY (repo, path));
CREATE TABLE IF NOT EXISTS agentos_run_lines (
    id BIGSERIAL PRIMARY KEY, repo TEXT NOT NULL, path TEXT NOT NULL, line TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS agentos_run_lines_path ON agentos_run_lines (repo, path);
"""


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError("state.url is a PostgreSQL URL, but the psycopg driver is not installed", SCALE_HINT) from None
    return psycopg


def connect(url: str) -> Any:
    """An autocommit connection (as the checkpointer needs); exit 2 naming why it cannot be made."""
    psycopg = _psycopg()
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        raise UsageError(f"cannot connect to the state database {shown(url)}: {_first_line(exc)}",
                         "check state.url (host, port, database, user, password) and that the server runs") from None


def prepare(url: str) -> None:
    """Make sure the database holds our tables and the checkpointer's, and that we may write them;
    exit 2 naming the missing permission otherwise."""
    psycopg = _psycopg()
    with connect(url) as conn:
        try:
            for statement in filter(str.strip, _TABLES.split(";")):
                conn.execute(statement)
            _saver(conn).setup()
            with conn.transaction():  # a write we roll back: proves INSERT is allowed too
                conn.execute("INSERT INTO agentos_run_lines (repo, path, line) VALUES ('', '', '')")
                raise _Rollback
        except _Rollback:
            pass
        except psycopg.errors.InsufficientPrivilege as exc:
            raise UsageError(f"the state database {shown(url)} refuses us: {_first_line(exc)}",
                             "grant the user CREATE on the database's schema and INSERT/UPDATE/SELECT on its "
                             "tables, or point state.url at a database it owns") from None


class _Rollback(Exception):
    pass


def _saver(conn: Any, serde: Any = None) -> Any:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError:
        raise UsageError("state.url is set, but langgraph-checkpoint-postgres is not installed", SCALE_HINT) from None
    return PostgresSaver(conn, serde=serde)


@contextmanager
def checkpointer(url: str, serde: Any = None) -> Iterator[Any]:
    """LangGraph's Postgres checkpointer on its own connection (with the caller's serializer),
    closed when the run ends."""
    conn = connect(url)
    try:
        yield _saver(conn, serde)
    finally:
        conn.close()


class RunStore:
    """The run folders of one repository (`repo`: its remote, as every machine names it) in the database."""

    def __init__(self, url: str, repo: str):
        self.repo = repo
        self._conn = connect(url)

    def close(self) -> None:
        self._conn.close()

    def write(self, rel: str, text: str) -> None:
        if rel.startswith("."):  # hidden files (run locks) belong to this machine
            return
        self._conn.execute("INSERT INTO agentos_run_files (repo, path, content) VALUES (%s, %s, %s) "
                           "ON CONFLICT (repo, path) DO UPDATE SET content = EXCLUDED.content", (self.repo, rel, text))

    def append(self, rel: str, line: str) -> None:
        if rel.startswith("."):
            return
        self._conn.execute("INSERT INTO agentos_run_lines (repo, path, line) VALUES (%s, %s, %s)",
                           (self.repo, rel, line))

    def restore(self, root: Path, prefix: str) -> int:
        """Write back under `root` every stored file whose path starts with `prefix`; how many."""
        like = prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        files = self._conn.execute("SELECT path, content FROM agentos_run_files WHERE repo = %s AND path LIKE %s",
                                   (self.repo, like)).fetchall()
        lines = self._conn.execute("SELECT path, line FROM agentos_run_lines WHERE repo = %s AND path LIKE %s "
                                   "ORDER BY id", (self.repo, like)).fetchall()
        logs: dict[str, list[str]] = {}
        for row in lines:
            logs.setdefault(row["path"], []).append(row["line"])
        for row in files:
            _write(root / row["path"], row["content"])
        for rel, entries in logs.items():
            _write(root / rel, "".join(f"{e}\n" for e in entries))
        return len(files) + len(logs)


def _write(path: Path, text: str) -> None:
    from agentos.files import write_atomic

    write_atomic(path, text)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
