"""Typed progress events and the bus that fans them out to sinks (console, JSONL, forge)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from agentos.redact import redact

EventKind = Literal[
    "run_started",
    "run_resumed",
    "stage_started",
    "stage_finished",
    "stage_skipped",
    "model_call",
    "artifact_written",
    "tests_ran",
    "step",
    "gate_paused",
    "gate_decided",
    "run_finished",
    "note",
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Event(BaseModel):
    kind: EventKind
    run_id: str = ""
    ts: str = Field(default_factory=now_iso)
    stage: str | None = None
    message: str = ""
    verdict: str | None = None
    """PASS | BLOCK | RETRY for stage_finished; the gate decision for gate_decided."""
    attempt: int | None = None
    model: str | None = None
    purpose: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    data: dict[str, Any] = Field(default_factory=dict)


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


class Progress:
    """The bus. Workflows call emit(); sinks decide how to show or keep it."""

    def __init__(self, run_id: str = "", sinks: list[Sink] | None = None):
        self.run_id = run_id
        self.sinks: list[Sink] = list(sinks or [])

    def emit(self, kind: EventKind, **fields: Any) -> Event:
        """Send an event, every known secret redacted, to each sink (terminal, log, issue comment)."""
        event = Event(kind=kind, run_id=self.run_id, **fields)
        event = Event.model_validate_json(redact(event.model_dump_json()))
        for sink in self.sinks:
            sink.handle(event)
        return event

    def suspend(self) -> None:
        """Let the terminal be used (a prompt): live displays stop until the next event."""
        for sink in self.sinks:
            if hasattr(sink, "suspend"):
                sink.suspend()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


class MemorySink:
    """Keeps events in a list: for tests and for summaries."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass
