"""One run per issue at a time, across processes: `with issue_lock(layout, n): ...` around a run.

The lock is an `flock` on `.agentos/runs/.locks/issue-N.lock`, which the kernel releases when
its holder exits or is killed, so a lock left by a dead run is simply taken by the next one: no
stale-lock cleanup, no pid guessing. Beside it, `issue-N.json` records who holds it (pid, host,
since, what) for the message the second run prints. Runs of different issues take different
locks and stay parallel; the batch runs each issue through the same function.

Another host: on NFS, Linux maps `flock` to byte-range locks that the server keeps for the
client machine and drops when that machine's lease expires (about 90 s after it died), so a run on
another host holds the lock as long as that host is alive. On a file system without locks at all
(flock fails with ENOLCK or EOPNOTSUPP), the record is claimed with an exclusive create instead:
a claim of a dead pid on this host is taken over; a claim from another host is honoured until it
is `CLAIM_EXPIRY_S` old, or until the user deletes the file the message names.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from agentos.errors import UsageError
from agentos.files import write_atomic
from agentos.paths import RepoLayout

CLAIM_EXPIRY_S = 24 * 3600
"""Without file locks: how long another host's claim holds before it counts as abandoned."""
POLL_S = 1.0
"""Without file locks: how often `wait` looks again."""
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


@dataclass(frozen=True)
class Holder:
    """Who holds an issue's lock."""

    pid: int
    host: str
    since: str
    what: str

    def describe(self) -> str:
        when = self.since.replace("T", " ")[:19] + " UTC"
        return f"pid {self.pid} on {self.host} since {when} ({self.what})"

    def gone(self) -> bool:
        """Whether the holder is known to be dead (this host) or its claim has expired (another host)."""
        if self.host != socket.gethostname():
            started = datetime.fromisoformat(self.since)
            return (datetime.now(timezone.utc) - started).total_seconds() > CLAIM_EXPIRY_S
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


class IssueLocked(UsageError):
    """Another run of the same issue is alive."""

    def __init__(self, issue: int, holder: Holder | None, claim: Path | None = None):
        who = holder.describe() if holder else "another process (its record is being written)"
        gone = f"; if that process is gone for good on another host, delete {claim}" if claim else ""
        super().__init__(f"issue #{issue} is already being run by {who}",
                         f"wait for it to end, or run the same command with --wait to continue when it does{gone}")
        self.holder = holder


def lock_path(layout: RepoLayout, issue: int) -> Path:
    return layout.runs_dir / ".locks" / f"issue-{issue}.lock"


@contextmanager
def issue_lock(layout: RepoLayout, issue: int, what: str, wait: bool = False,
               on_wait: Callable[[Holder | None], None] = lambda holder: None) -> Iterator[Holder]:
    """Hold the issue's lock for the block; IssueLocked (exit 2) when another run holds it, or,
    with `wait`, block until it ends (`on_wait` is told who it waits for)."""
    path = lock_path(layout, issue)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = Holder(os.getpid(), socket.gethostname(), datetime.now(timezone.utc).isoformat(), what)
    record = path.with_suffix(".json")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        locked = _flock(fd, issue, record, wait, on_wait)
        if locked:
            write_atomic(record, json.dumps(asdict(me)))
        with _claimed(record, me, issue, wait, on_wait) if not locked else _forgotten(record):
            yield me
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def _forgotten(record: Path) -> Iterator[None]:
    """The holder record, removed when the block ends."""
    try:
        yield
    finally:
        with suppress(OSError):
            record.unlink()


def _flock(fd: int, issue: int, record: Path, wait: bool, on_wait: Callable[[Holder | None], None]) -> bool:
    """Take the flock (True); False when the file system has no locks; IssueLocked when held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        if not wait:
            raise IssueLocked(issue, read_holder(record)) from None
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return False
        raise
    on_wait(read_holder(record))
    fcntl.flock(fd, fcntl.LOCK_EX)
    return True


@contextmanager
def _claimed(record: Path, me: Holder, issue: int, wait: bool,
             on_wait: Callable[[Holder | None], None]) -> Iterator[None]:
    """The record as the lock, for file systems without flock: created exclusively, removed after."""
    told = False
    while True:
        try:
            fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            other = read_holder(record)
            if (other.gone() if other else _age_s(record) > POLL_S * 10):  # None: being written, or torn
                with suppress(FileNotFoundError):
                    record.unlink()
                continue
            if not wait:
                raise IssueLocked(issue, other, record) from None
            if not told:
                on_wait(other)
                told = True
            time.sleep(POLL_S)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(me)))
        break
    with _forgotten(record):
        yield


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def read_holder(record: Path) -> Holder | None:
    """Who the record says holds the lock, or None (no record, or one cut short)."""
    try:
        return Holder(**json.loads(record.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
