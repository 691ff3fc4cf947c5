"""The one way agentos runs a child process: bounded in time, in output, and in what it leaves behind.

Every command that runs the target repository's code (its tests, its set-up) or an agent CLI
goes through `run_bounded`. The command runs in a session (so a process group) of its own,
within a wall-clock limit. Its output is read through a pipe as it comes and only the first and
last characters are kept, so a command printing gigabytes costs neither memory nor disk. When
it ends, times out, or the caller is interrupted, its whole process group is ended by the one
kill policy: SIGTERM, a grace of KILL_GRACE_S, then SIGKILL; `end_children` applies it to
every command still running, whichever thread started it (the CLI's way out after Ctrl-C or
SIGTERM). With a `confine` (see agentos/sandbox) the command runs inside the sandbox it
describes: the runner wraps its argv with the sandbox's backend and gives it the sandbox's
environment.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentos.sandbox import Confinement

KILL_GRACE_S = 2.0
_CHUNK = 1 << 20
_RUNNING: dict[int, subprocess.Popen] = {}
"""Commands started and not yet ended, by pid (= their process group)."""
_LOCK = threading.Lock()


@dataclass
class BoundedRun:
    """What a command run by `run_bounded` did; of its output only the two ends are kept."""

    exit_code: int | None  # None when killed on timeout
    timed_out: bool
    duration_s: float
    head: str
    tail: str
    total_chars: int
    stderr: str = ""
    """The last characters of stderr when it was read apart from stdout; else empty."""

    def clipped(self, max_chars: int) -> str:
        """The output if it fits in `max_chars`, else its head and tail around a cut marker."""
        return _clip(self.head, self.tail, self.total_chars, max_chars)


def run_bounded(
    command: str | list[str],
    cwd: Path,
    timeout_s: float,
    *,
    head_chars: int,
    tail_chars: int,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    stdin: Path | str | bytes | None = None,
    stderr_apart: bool = False,
    confine: Confinement | None = None,
) -> BoundedRun:
    """Run a shell string or an argv list in `cwd`, within `timeout_s`, and end its process group.

    The child's environment is `base_env` (default: ours) with `env` laid over it; it never
    writes Python bytecode into the tree it runs in. `stdin` is a file to read, or text/bytes
    to feed; none means an empty stdin. Output is stdout and stderr merged, or with
    `stderr_apart` stdout alone (stderr's tail goes to `BoundedRun.stderr`). Raises OSError
    only when the command cannot start. With `confine`, the command runs in that sandbox and
    sees only the environment it allows (`env` entries always pass).
    """
    ours = os.environ if base_env is None else base_env
    set_for_command = {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    if confine is None:
        return _run({**ours, **set_for_command}, command, cwd, timeout_s, head_chars, tail_chars, stdin, stderr_apart)
    with confine.launch(command, cwd, ours, set_for_command) as (argv, child_env):
        return _run(child_env, argv, cwd, timeout_s, head_chars, tail_chars, stdin, stderr_apart)


def _run(child_env: dict[str, str], command: str | list[str], cwd: Path, timeout_s: float, head_chars: int,
         tail_chars: int, stdin: Path | str | bytes | None, stderr_apart: bool) -> BoundedRun:
    out = _Ends(head_chars, tail_chars)
    err = _Ends(0, tail_chars) if stderr_apart else None
    started = time.monotonic()
    with _LOCK:  # started and recorded at once: end_children never misses a command already running
        proc = _start(command, cwd, child_env, stdin, stderr_apart)
        _RUNNING[proc.pid] = proc
    try:
        readers = [_read(proc.stdout, out)] + ([_read(proc.stderr, err)] if err else [])
        if isinstance(stdin, (str, bytes)):
            _feed(proc.stdin, stdin.encode() if isinstance(stdin, str) else stdin)
        timed_out = not _wait(proc, timeout_s)
    finally:
        _end_group(proc)  # on timeout the hang; otherwise anything it left running in background
        with _LOCK:
            _RUNNING.pop(proc.pid, None)
    # A process that left the group (setsid) may still hold the pipe: do not wait for it.
    for reader in readers:
        reader.join(timeout=KILL_GRACE_S + 1)
    head, tail, total = out.snapshot()
    return BoundedRun(None if timed_out else proc.returncode, timed_out, round(time.monotonic() - started, 3),
                      head, tail, total, err.snapshot()[1] if err else "")


def end_children() -> None:
    """End the process group of every command still running (by the one kill policy): what a
    command does on its way out after Ctrl-C or SIGTERM, whichever thread started them."""
    with _LOCK:
        running = list(_RUNNING.values())
    for proc in running:
        _end_group(proc)


class Background:
    """A command left running on its own (a run the dashboard continues), its output going to a file.

    It runs in a session of its own; `end()` applies the one kill policy to its whole group, and
    whoever starts one ends it on every exit path.
    """

    def __init__(self, argv: list[str], cwd: Path, log: Path, env: Mapping[str, str] | None = None):
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self._proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.log = log

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exit_code(self) -> int | None:
        """Its exit code once it has ended; None while it runs."""
        return self._proc.poll()

    def end(self) -> None:
        """End it (and whatever it started in its group) if it is still running."""
        if self._proc.poll() is None:
            _end_group(self._proc)


def _start(command: str | list[str], cwd: Path, env: dict[str, str], stdin: Path | str | bytes | None,
           stderr_apart: bool) -> subprocess.Popen:
    """Start the command in a new session, with pipes for its output (and for text on stdin)."""
    feeds = isinstance(stdin, (str, bytes))
    source = open(stdin, "rb") if isinstance(stdin, Path) else contextlib.nullcontext(
        subprocess.PIPE if feeds else subprocess.DEVNULL)
    with source as stdin_arg:
        return subprocess.Popen(
            command, shell=isinstance(command, str), cwd=cwd, env=env, stdin=stdin_arg, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT, start_new_session=True,
        )


def _wait(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Whether the process ended within `timeout_s`."""
    ended = threading.Event()
    # A blocking wait in a thread: Popen.wait(timeout) polls with sleeps of up to 50 ms.
    threading.Thread(target=lambda: (proc.wait(), ended.set()), daemon=True).start()
    return ended.wait(timeout_s)


def _read(pipe, ends: _Ends) -> threading.Thread:
    """A started thread feeding everything the pipe delivers, decoded as UTF-8, into `ends`."""

    def drain() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with pipe:
            while chunk := pipe.read1(_CHUNK):
                ends.feed(decoder.decode(chunk))
        ends.feed(decoder.decode(b"", final=True))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    return reader


def _feed(pipe, data: bytes) -> None:
    """Write `data` to the child's stdin from a thread, so a child that talks first cannot deadlock us."""

    def write() -> None:
        with contextlib.suppress(OSError):  # the child exited or closed its stdin: nothing more to say
            with pipe:
                pipe.write(data)

    threading.Thread(target=write, daemon=True).start()


def _end_group(proc: subprocess.Popen) -> None:
    """The one kill policy: SIGTERM every process in `proc`'s group, SIGKILL what is left after a grace."""
    pgid = proc.pid
    if not _signal_group(pgid, signal.SIGTERM):
        proc.wait()
        return
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so it stops counting as a member
        if not _group_alive(pgid):
            break
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when the group has no processes left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    proc_fs = Path("/proc")
    if not proc_fs.is_dir():
        return _signal_group(pgid, 0)
    for stat in proc_fs.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


class _Ends:
    """The first and last characters of a text fed in pieces, and its length."""

    def __init__(self, head_chars: int, tail_chars: int):
        self.head_chars, self.tail_chars = head_chars, tail_chars
        self.head: list[str] = []
        self.head_len = 0
        self.tail: deque[str] = deque()
        self.tail_len = 0
        self.total = 0

    def feed(self, text: str) -> None:
        self.total += len(text)
        if self.head_len < self.head_chars:
            piece = text[: self.head_chars - self.head_len]
            self.head.append(piece)
            self.head_len += len(piece)
        self.tail.append(text)
        self.tail_len += len(text)
        while self.tail and self.tail_len - len(self.tail[0]) >= self.tail_chars:
            self.tail_len -= len(self.tail.popleft())

    def snapshot(self) -> tuple[str, str, int]:
        """(first head_chars, last tail_chars, total characters) fed so far."""
        tail = "".join(self.tail)
        return "".join(self.head), tail[len(tail) - min(self.tail_chars, len(tail)):], self.total


def _clip(head: str, tail: str, total: int, max_chars: int) -> str:
    """The whole output if it fits, else ~20% head and ~80% tail around a cut marker."""
    missing = total - len(tail)  # the first characters, which only the head can still hold
    if total <= max_chars and missing <= len(head):
        return head[:missing] + tail
    budget = max(0, max_chars - 80)  # room for the marker line
    head_n = budget // 5
    tail_n = budget - head_n
    cut = total - head_n - tail_n
    marker = f"\n[… {cut:,} characters of output cut …]\n"
    return head[:head_n] + marker + (tail[-tail_n:] if tail_n else "")


def page(text: str) -> None:
    """Show `text` through the user's pager ($PAGER, else `less`) on a terminal; print it otherwise.

    As git does: LESS defaults to FRX (quit when it fits on one screen, keep colours, leave the
    text on screen). The pager shares our terminal, whose keys it reads, so unlike `run_bounded`
    it stays in our process group, and has no time limit: it ends when the user quits it.
    """
    import shlex
    import sys

    pager = os.environ.get("PAGER", "less")
    if not sys.stdout.isatty() or os.environ.get("TERM") == "dumb" or pager.strip() in ("", "cat"):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(shlex.split(pager), stdin=subprocess.PIPE, env={"LESS": "FRX", **os.environ})
    except (OSError, ValueError):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        with contextlib.suppress(BrokenPipeError):  # the user quit before reading it all
            with proc.stdin:
                proc.stdin.write(text.encode("utf-8", "replace"))
    finally:
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:  # Ctrl-C belongs to the pager (less stays; ends on q)
                continue
