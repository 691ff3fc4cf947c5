"""Limits shared by every worker of a batch: one budget, and each provider's concurrency and rate.

The workers are separate processes (on one machine), so what they share lives in one SQLite
file, changed only inside `BEGIN IMMEDIATE` transactions (one writer at a time):

- the budget: before a paid call a worker reserves its worst case against the batch's cap
  (what was spent + what other workers hold + this call); after the call the reservation is
  settled with what it cost. Calls whose worst case is unknown (unpriced models) reserve 0, so
  the batch overshoots its cap by at most one call per worker;
- provider slots: a call attempt holds one of the provider's `concurrency` slots while it runs,
  and starts only while fewer than `per_minute` attempts started in the last minute;
- pauses: a rate-limited answer (429) pauses the provider for every worker for as long as the
  provider asked, so one worker's 429 slows them all.

A slot or reservation held by a process that died is released by the next transaction that
looks (same host, pid gone), and `reset_holders` clears them all when a batch (re)starts.
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spend (id INTEGER PRIMARY KEY, host TEXT, pid INTEGER, what TEXT,
                                  reserved REAL NOT NULL, cost REAL);
CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY, provider TEXT, host TEXT, pid INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS starts (provider TEXT, at REAL);
CREATE TABLE IF NOT EXISTS pauses (provider TEXT PRIMARY KEY, until REAL NOT NULL);
"""


class NoLimits:
    """Outside a batch: nothing shared, nothing waited for."""

    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        yield

    def slow_down(self, provider: str, seconds: float) -> None:
        pass


NO_LIMITS = NoLimits()


class SharedLimits:
    """One process's handle on the batch's shared limits file."""

    def __init__(self, path: Path, sleep=time.sleep, clock=time.time):
        self.path = path
        self._sleep = sleep
        self._clock = clock
        self._host = socket.gethostname()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def create(cls, path: Path, budget_usd: float | None, limits: Mapping[str, tuple[int, int | None]]) -> SharedLimits:
        """The batch's file with its caps (kept across a resumed batch's spend); holders of a killed batch released."""
        shared = cls(path)
        with shared._tx() as db:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('budget_usd', ?)", (json.dumps(budget_usd),))
            db.execute("INSERT OR REPLACE INTO settings VALUES ('limits', ?)",
                       (json.dumps({k: list(v) for k, v in limits.items()}),))
            db.execute("DELETE FROM spend WHERE cost IS NULL")
            db.execute("DELETE FROM slots")
        return shared

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _setting(self, key: str):
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- the budget --------------------------------------------------------------------------
    def spent(self) -> float:
        row = self._db.execute("SELECT COALESCE(SUM(cost), 0) FROM spend WHERE cost IS NOT NULL").fetchone()
        return float(row[0])

    def reserve(self, worst_usd: float, what: str) -> int:
        """Hold `worst_usd` of the batch's budget for one call; BudgetExhausted when it does not fit."""
        with self._tx() as db:
            self._release_dead(db)
            cap = self._setting("budget_usd")
            spent, held = db.execute("SELECT COALESCE(SUM(cost), 0), COALESCE(SUM(CASE WHEN cost IS NULL "
                                     "THEN reserved END), 0) FROM spend").fetchone()
            if cap is not None and spent + held + worst_usd > cap:
                raise _exhausted(spent, held, worst_usd, cap, what)
            cur = db.execute("INSERT INTO spend (host, pid, what, reserved) VALUES (?, ?, ?, ?)",
                             (self._host, os.getpid(), what, worst_usd))
            return int(cur.lastrowid)

    def settle(self, reservation: int | None, cost_usd: float, what: str) -> None:
        """What a call cost, in place of its reservation (or on its own when none was held)."""
        with self._tx() as db:
            if reservation is None:
                db.execute("INSERT INTO spend (host, pid, what, reserved, cost) VALUES (?, ?, ?, 0, ?)",
                           (self._host, os.getpid(), what, cost_usd))
            else:
                db.execute("UPDATE spend SET cost = ? WHERE id = ?", (cost_usd, reservation))

    # -- provider slots, rates and pauses ----------------------------------------------------
    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        """Hold one of the provider's slots for one attempt, waiting for a free one (and any pause)."""
        slot_id = self._acquire(provider)
        try:
            yield
        finally:
            with self._tx() as db:
                db.execute("DELETE FROM slots WHERE id = ?", (slot_id,))

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
        with self._tx() as db:
            self._release_dead(db)
            db.execute("DELETE FROM starts WHERE at < ?", (now - WINDOW_S,))
            until = db.execute("SELECT until FROM pauses WHERE provider = ?", (provider,)).fetchone()
            if until and until[0] > now:
                return until[0] - now
            busy = db.execute("SELECT COUNT(*) FROM slots WHERE provider = ?", (provider,)).fetchone()[0]
            if concurrency is not None and busy >= concurrency:
                return POLL_S
            if per_minute is not None:
                started = db.execute("SELECT COUNT(*), MIN(at) FROM starts WHERE provider = ?", (provider,)).fetchone()
                if started[0] >= per_minute:
                    return started[1] + WINDOW_S - now
            db.execute("INSERT INTO starts VALUES (?, ?)", (provider, now))
            cur = db.execute("INSERT INTO slots (provider, host, pid, at) VALUES (?, ?, ?, ?)",
                             (provider, self._host, os.getpid(), now))
            return int(cur.lastrowid)

    def slow_down(self, provider: str, seconds: float) -> None:
        """The provider said 429: nobody starts a call to it for `seconds`."""
        until = self._clock() + max(seconds, POLL_S)
        with self._tx() as db:
            db.execute("INSERT INTO pauses VALUES (?, ?) ON CONFLICT(provider) DO UPDATE SET "
                       "until = MAX(until, excluded.until)", (provider, until))

    def _release_dead(self, db: sqlite3.Connection) -> None:
        """Slots and reservations of this host's processes that died (a killed worker) go back."""
        pids = {r[0] for r in db.execute("SELECT pid FROM slots WHERE host = ? UNION "
                                         "SELECT pid FROM spend WHERE host = ? AND cost IS NULL",
                                         (self._host, self._host))}
        for pid in (p for p in pids if not _alive(p)):
            db.execute("DELETE FROM slots WHERE host = ? AND pid = ?", (self._host, pid))
            db.execute("DELETE FROM spend WHERE host = ? AND pid = ? AND cost IS NULL", (self._host, pid))


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
