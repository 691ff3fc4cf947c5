"""Durable files: whole-file writes that are atomic, and JSONL logs that survive a crash.

A process can be killed at any instant. `write_atomic` leaves either the old file or the new
one, never half of either. `append_line` makes each record durable before returning, and
`read_jsonl` skips the one record a kill can cut short, so every log stays readable.

Where the state is shared between machines (a batch on Ray), `mirrored` also sends every write
under a folder to a `Mirror` (agentos/state: PostgreSQL) as it is made, so another machine can
bring the folder back and continue.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from contextlib import suppress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from agentos.errors import UsageError


class Mirror(Protocol):
    """Where writes under a folder are also kept (paths relative to that folder)."""

    def write(self, rel: str, text: str) -> None: ...

    def append(self, rel: str, line: str) -> None: ...


_MIRRORS: list[tuple[Path, Mirror]] = []


@contextmanager
def mirrored(folder: Path, mirror: Mirror) -> Iterator[None]:
    """While open, every write_atomic and append_line under `folder` also goes to `mirror`."""
    entry = (folder.resolve(), mirror)
    _MIRRORS.append(entry)
    try:
        yield
    finally:
        _MIRRORS.remove(entry)


def _mirrors_of(path: Path) -> list[tuple[str, Mirror]]:
    if not _MIRRORS:
        return []
    full = path.resolve()
    return [(full.relative_to(root).as_posix(), m) for root, m in list(_MIRRORS) if full.is_relative_to(root)]


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines as given), durably and all at once.

    The text goes to a temporary file beside `path`, is flushed and fsynced, then renamed over
    `path`; the directory is fsynced so the rename itself survives a power cut. On any failure
    the temporary file is removed and `path` keeps its old content; one left by a writer that
    was killed is removed by the next write in its folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        _name_file(exc, path)
        raise
    _fsync_dir(path.parent)
    for rel, mirror in _mirrors_of(path):
        mirror.write(rel, text)


_TEMP = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")
"""The name of `write_atomic`'s temporary file: `.<name>.<pid of the writer>.<random>.tmp`."""


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left in `directory` (a writer
    still running keeps its own); the files removed."""
    removed = []
    with suppress(OSError):
        for entry in os.scandir(directory):
            match = _TEMP.fullmatch(entry.name)
            if match and not pid_running(int(match.group(1))):
                with suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def pid_running(pid: int) -> bool:
    """Whether process `pid` exists (ours counts: another thread of ours may be writing), to
    tell a temporary file or folder a killed process left from one still being written."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable; a no-op where directories cannot be opened (Windows)."""
    if os.name != "posix":  # pragma: no cover - Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: Path, line: str) -> None:
    """Append `line` and a newline to `path` (created with its folders), fsynced before returning.

    A file that ends mid-line holds a record cut short by a crash: a newline is written first,
    so the new record starts on a line of its own instead of being glued to the torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:  # "a": every write goes to the end, whatever the position
        torn = handle.seek(0, os.SEEK_END) > 0 and _last_byte(handle) != b"\n"
        try:
            handle.write((("\n" if torn else "") + line + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            _name_file(exc, path)
            raise
    for rel, mirror in _mirrors_of(path):
        mirror.append(rel, line)


def _name_file(exc: BaseException, path: Path) -> None:
    """Say which file a failed write was for: a full disk fails the write with no file name."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
        exc.filename = str(path)


def _last_byte(handle) -> bytes:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in order; none when the file does not exist.

    Lines that are not a JSON object are skipped: a process killed mid-write leaves a torn
    last line, and after a resume appends to the same log that fragment sits mid-file.
    """
    try:
        return json_lines(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return []


def json_lines(text: str) -> list[dict[str, Any]]:
    """The lines of `text` that are JSON objects, parsed, in order; any other line is skipped."""
    records = []
    for line in text.split("\n"):  # not splitlines(): JSON text may hold U+2028 and friends
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_user_text(path: Path, what: str) -> str:
    """The UTF-8 text of a file the user named (`what`: the option, e.g. "--config"); a file
    that cannot be read as text is a UsageError saying why."""
    hint = f"give {what} a UTF-8 text file"
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a directory, not a file", hint) from None
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist", hint) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start})", f"{hint}; convert it, e.g. iconv -t UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}", hint) from None
