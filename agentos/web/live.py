"""A run's events as they happen: its events.jsonl followed and sent as Server-Sent Events.

The log is the run's record (written and fsynced by whichever process runs it), so following the
file works for runs started anywhere: the terminal, `agentos poll`, or this server. Each event's
id is the byte offset after it, so a browser that reconnects (Last-Event-ID) misses nothing and
sees nothing twice. A torn last line is held back until its newline arrives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from agentos.files import json_lines
from agentos.redact import redact

POLL_S = 0.5
HEARTBEAT_S = 15.0


def sse(event: str, data: str, event_id: int | None = None) -> str:
    """One Server-Sent Event; `data` must be one line (JSON is)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def follow(path: Path, offset: int, is_live: Callable[[], bool], poll_s: float = POLL_S) -> AsyncIterator[str]:
    """The events after byte `offset`, then each new one as it is written; ends once it has sent
    everything and nothing runs the run any more (the page then reloads what it shows)."""
    yield f"retry: {int(poll_s * 4000)}\n\n"
    idle = 0.0
    while True:
        chunk = _read_from(path, offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for line in complete.split(b"\n")[:-1]:
            offset += len(line) + 1
            for record in json_lines(line.decode("utf-8", "replace")):
                yield sse("run", redact(json.dumps(record)), offset)
        if complete:
            idle = 0.0
        elif not is_live():
            yield sse("end", "{}")
            return
        await asyncio.sleep(poll_s)
        idle += poll_s
        if idle >= HEARTBEAT_S:
            idle = 0.0
            yield ": still here\n\n"


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read()
    except FileNotFoundError:
        return b""
