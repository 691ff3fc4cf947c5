"""The run's event log: one JSON object per line in events.jsonl, and a tolerant reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from agentos.progress.events import Event


class JsonlSink:
    """Appends every event as one JSON line, flushed at once so a killed run keeps its history.

    `redact` (if given) rewrites each serialised line before it is written, e.g. to
    mask secrets. The file and its parent directories are created on the first event.
    Write errors propagate: unlike the console, this is the run's record.
    """

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None):
        self.path = Path(path)
        self.redact = redact
        self._file: IO[str] | None = None

    def handle(self, event: Event) -> None:
        line = event.model_dump_json()
        if self.redact is not None:
            line = self.redact(line)
        file = self._open()
        file.write(line + "\n")
        file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> IO[str]:
        """Open for appending; end a line cut short by an earlier crash so ours start clean."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = _ends_mid_line(self.path)
            self._file = self.path.open("a", encoding="utf-8")
            if torn:
                self._file.write("\n")
        return self._file


def _ends_mid_line(path: Path) -> bool:
    """True when the file exists, is not empty and its last byte is not a newline."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as file:
        file.seek(-1, 2)
        return file.read(1) != b"\n"


def read_events(path: Path) -> list[Event]:
    """The events in a JSONL log, in order.

    Lines that do not parse are skipped: a process killed mid-write leaves a truncated
    last line, and after a resume appends to the same log that fragment sits mid-file.
    """
    events: list[Event] = []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            events.append(Event.model_validate_json(line))
        except ValidationError:
            continue
    return events
