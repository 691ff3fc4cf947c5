"""The run's event log: one JSON object per line in events.jsonl, and a tolerant reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from agentos.files import append_line, read_jsonl
from agentos.progress.events import Event


class JsonlSink:
    """Appends every event as one JSON line, fsynced at once so a killed run keeps its history.

    `redact` (if given) rewrites each serialised line before it is written, e.g. to
    mask secrets. The file and its parent directories are created on the first event.
    Write errors propagate: unlike the console, this is the run's record.
    """

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None):
        self.path = Path(path)
        self.redact = redact

    def handle(self, event: Event) -> None:
        line = event.model_dump_json()
        if self.redact is not None:
            line = self.redact(line)
        append_line(self.path, line)

    def close(self) -> None:
        """Nothing to release: each event is written and closed on its own."""


def read_events(path: Path) -> list[Event]:
    """The events in a JSONL log, in order; lines that are torn or not events are skipped."""
    events: list[Event] = []
    for record in read_jsonl(Path(path)):
        try:
            events.append(Event.model_validate(record))
        except ValidationError:
            continue
    return events
