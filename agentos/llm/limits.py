"""Limits shared by every worker of a batch: one budget, and each provider's concurrency and rate.

The workers are separate processes, so what they share lives in a database, changed only inside
transactions that take one writer at a time: a SQLite file for the local pool, PostgreSQL (a
schema of its own per batch) for workers on many machines (Ray):

- the budget: before a paid call a worker reserves its worst case against the batch's cap
  (what was spent + what other workers hold + this call); after the call the reservation is
  settled with what it cost. Calls whose worst case is unknown (unpriced models) reserve 0, so
  the batch overshoots its cap by at most one call per worker;
- provider slots: a call attempt holds one of the provider's `concurrency` slots while it runs,
  and starts only while fewer than `per_minute` attempts started in the last minute;
- pauses: a rate-limited answer (429) pauses the provider for every worker for as long as the
  provider asked, so one worker's 429 slows them all.

A slot or reservation held by a process that died is released by the next transaction that
looks (same host: the pid is gone; another host: after STALE_S), and all of them when the batch
(re)starts.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from agentos.errors import BudgetExhausted

WINDOW_S = 60.0
POLL_S = 0.05
STALE_S = 1800.0
"""A slot or reservation this old is released even when its holder cannot be checked (another
machine's process): longer than a call may take, retries included."""

_TABLES = {
    "settings": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    "spend": "id {id}, host TEXT, pid INTEGER, at {real}, what TEXT, reserved {real} NOT NULL, cost {real}",
    "slots": "id {id}, provider TEXT, host TEXT, pid INTEGER, at {real}",
    "starts": "provider TEXT, at {real}",
    "pauses": "provider TEXT PRIMARY KEY, until {real} NOT NULL",
}


class NoLimits:
    """Outside a batch: nothing shared, nothing waited for."""

    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        yield

    def slow_down(self, provider: str, seconds: float) -> None:
        pass


NO_LIMITS = NoLimits()


class _Sqlite:
    """The batch's limits in one SQLite file (one machine): `BEGIN IMMEDIATE` makes one writer at a time."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        for name, columns in _TABLES.items():
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {name} "
                              f"({columns.format(id='INTEGER PRIMARY KEY', real='REAL')})")

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def tx(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class _Postgres:
    """The batch's limits in PostgreSQL (many machines), in the schema the URL's search_path names;
    a table lock makes one writer at a time."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        with self.tx():
            for name, columns in _TABLES.items():
                self.conn.execute(f"CREATE TABLE IF NOT EXISTS {name} "
                                  f"({columns.format(id='BIGSERIAL PRIMARY KEY', real='DOUBLE PRECISION')})")

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        cur = self.conn.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []

    @contextmanager
    def tx(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(4242)")
            yield


class SharedLimits:
    """One process's handle on the batch's shared limits: a SQLite file, or a postgresql:// URL."""

    def __init__(self, where: Path | str, sleep=time.sleep, clock=time.time):
        self.where = where
        self._sleep = sleep
        self._clock = clock
        self._host = socket.gethostname()
        self._db = _Postgres(where) if str(where).startswith(("postgresql://", "postgres://")) else _Sqlite(Path(where))

    @classmethod
    def create(cls, where: Path | str, budget_usd: float | None,
               limits: Mapping[str, tuple[int, int | None]]) -> SharedLimits:
        """The batch's limits with its caps (kept across a resumed batch's spend); holders of a killed batch released."""
        shared = cls(where)
        upsert = "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        with shared._db.tx():
            shared._db.execute(upsert, ("budget_usd", json.dumps(budget_usd)))
            shared._db.execute(upsert, ("limits", json.dumps({k: list(v) for k, v in limits.items()})))
            shared._db.execute("DELETE FROM spend WHERE cost IS NULL")
            shared._db.execute("DELETE FROM slots")
        return shared

    def close(self) -> None:
        self._db.conn.close()

    def _one(self, sql: str, params: tuple = ()) -> tuple:
        return self._db.execute(sql, params)[0]

    def _setting(self, key: str):
        rows = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    # -- the budget --------------------------------------------------------------------------
    def spent(self) -> float:
        return float(self._one("SELECT COALESCE(SUM(cost), 0) FROM spend WHERE cost IS NOT NULL")[0])

    def reserve(self, worst_usd: float, what: str) -> int:
        """Hold `worst_usd` of the batch's budget for one call; BudgetExhausted when it does not fit."""
        with self._db.tx():
            self._release_dead()
            cap = self._setting("budget_usd")
            spent, held = (float(x) for x in self._one(
                "SELECT COALESCE(SUM(cost), 0), COALESCE(SUM(CASE WHEN cost IS NULL THEN reserved END), 0) FROM spend"))
            if cap is not None and spent + held + worst_usd > cap:
                raise _exhausted(spent, held, worst_usd, cap, what)
            return int(self._one("INSERT INTO spend (host, pid, at, what, reserved) VALUES (?, ?, ?, ?, ?) RETURNING id",
                                 (self._host, os.getpid(), self._clock(), what, worst_usd))[0])

    def settle(self, reservation: int | None, cost_usd: float, what: str) -> None:
        """What a call cost, in place of its reservation (or on its own when none was held)."""
        with self._db.tx():
            if reservation is None:
                self._db.execute("INSERT INTO spend (host, pid, at, what, reserved, cost) VALUES (?, ?, ?, ?, 0, ?)",
                                 (self._host, os.getpid(), self._clock(), what, cost_usd))
            else:
                self._db.execute("UPDATE spend SET cost = ? WHERE id = ?", (cost_usd, reservation))

    # -- provider slots, rates and pauses ----------------------------------------------------
    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        """Hold one of the provider's slots for one attempt, waiting for a free one (and any pause)."""
        slot_id = self._acquire(provider)
        try:
            yield
        finally:
            with self._db.tx():
                self._db.execute("DELETE FROM slots WHERE id = ?", (slot_id,))

    def _acquire(self, provider: str) -> int:
        while True:
            wait = self._try_acquire(provider)
            if isinstance(wait, int):
                return wait
            self._sleep(min(1.0, max(POLL_S, wait)) * (0.5 + random.random()))

    def _try_acquire(self, provider: str) -> int | float:
        """The slot's id, or seconds to wait before asking again."""
        now = self._clock()
        concurrency, per_minute = (self._setting("limits") or {}).get(provider, (None, None))
        with self._db.tx():
            self._release_dead()
            self._db.execute("DELETE FROM starts WHERE at < ?", (now - WINDOW_S,))
            until = self._db.execute("SELECT until FROM pauses WHERE provider = ?", (provider,))
            if until and until[0][0] > now:
                return until[0][0] - now
            busy = self._one("SELECT COUNT(*) FROM slots WHERE provider = ?", (provider,))[0]
            if concurrency is not None and busy >= concurrency:
                return POLL_S
            if per_minute is not None:
                count, first = self._one("SELECT COUNT(*), MIN(at) FROM starts WHERE provider = ?", (provider,))
                if count >= per_minute:
                    return first + WINDOW_S - now
            self._db.execute("INSERT INTO starts VALUES (?, ?)", (provider, now))
            return int(self._one("INSERT INTO slots (provider, host, pid, at) VALUES (?, ?, ?, ?) RETURNING id",
                                 (provider, self._host, os.getpid(), now))[0])

    def slow_down(self, provider: str, seconds: float) -> None:
        """The provider said 429: nobody starts a call to it for `seconds`."""
        until = self._clock() + max(seconds, POLL_S)
        with self._db.tx():
            self._db.execute("INSERT INTO pauses VALUES (?, ?) ON CONFLICT (provider) DO UPDATE SET until = "
                             "CASE WHEN excluded.until > pauses.until THEN excluded.until ELSE pauses.until END",
                             (provider, until))

    def _release_dead(self) -> None:
        """Slots and reservations of processes that died go back: this host's at once (the pid is
        gone), another machine's once they are older than any call can be (STALE_S)."""
        stale = self._clock() - STALE_S
        self._db.execute("DELETE FROM slots WHERE at < ?", (stale,))
        self._db.execute("DELETE FROM spend WHERE cost IS NULL AND at < ?", (stale,))
        pids = {r[0] for r in self._db.execute("SELECT pid FROM slots WHERE host = ? UNION "
                                               "SELECT pid FROM spend WHERE host = ? AND cost IS NULL",
                                               (self._host, self._host))}
        for pid in (p for p in pids if not _alive(p)):
            self._db.execute("DELETE FROM slots WHERE host = ? AND pid = ?", (self._host, pid))
            self._db.execute("DELETE FROM spend WHERE host = ? AND pid = ? AND cost IS NULL", (self._host, pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exhausted(spent: float, held: float, worst: float, cap: float, what: str) -> BudgetExhausted:
    suggestion = math.ceil((spent + held + worst) * 2 * 100) / 100
    return BudgetExhausted(
        f"budget: the batch has spent ${spent:.4f} of its ${cap:.2f} cap (${held:.4f} more held by running "
        f"calls), and the next call ({what}) could cost up to ${worst:.4f}; paused before calling",
        f"raise the batch's cap and run the same batch command again with --budget-usd {max(suggestion, 0.01):g}",
    )
