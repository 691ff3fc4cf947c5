"""JsonlSink and read_events: the run's event log survives crashes and hides secrets."""

from __future__ import annotations

from pathlib import Path

from agentos.progress.events import Event, Progress
from agentos.progress.log import JsonlSink, read_events


TS = "2024-05-01T12:00:00.000+00:00"


def _events() -> list[Event]:
    """A fixed sequence (fixed timestamps, so two calls compare equal)."""
    events = [
        Event(kind="run_started", run_id="r1", data={"issue": 7, "stages": ["triage", "lld"]}),
        Event(kind="stage_started", run_id="r1", stage="triage", attempt=1),
        Event(kind="model_call", run_id="r1", stage="triage", model="scripted:demo",
              purpose="triage.draft", input_tokens=1200, output_tokens=340, cost_usd=0.002,
              data={"latency_s": 0.4}),
        Event(kind="stage_finished", run_id="r1", stage="triage", verdict="PASS", message="ok"),
    ]
    return [e.model_copy(update={"ts": TS}) for e in events]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    for event in _events():
        sink.handle(event)
    sink.close()
    assert read_events(path) == _events()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4


def test_parent_dirs_created_on_first_event_only(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r1" / "events.jsonl"
    sink = JsonlSink(path)
    assert not path.parent.exists()
    sink.handle(_events()[0])
    assert path.exists()
    sink.close()


def test_each_line_is_flushed_before_close(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    progress = Progress("r1", [JsonlSink(path)])
    progress.emit("note", message="first")
    progress.emit("note", message="second")
    assert [e.message for e in read_events(path)] == ["first", "second"]
    progress.close()


def test_redact_is_applied_to_every_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, redact=lambda line: line.replace("sk-secret-123", "[redacted]"))
    sink.handle(Event(kind="note", message="token sk-secret-123 used"))
    sink.handle(Event(kind="artifact_written", data={"path": "/tmp/sk-secret-123.md"}))
    sink.close()
    text = path.read_text(encoding="utf-8")
    assert "sk-secret-123" not in text
    events = read_events(path)
    assert events[0].message == "token [redacted] used"
    assert events[1].data["path"] == "/tmp/[redacted].md"


def test_appends_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first, second = _events()[:2], _events()[2:]
    for batch in (first, second):
        sink = JsonlSink(path)
        for event in batch:
            sink.handle(event)
        sink.close()
    assert read_events(path) == _events()


def test_truncated_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    whole = [e.model_dump_json() for e in _events()[:2]]
    cut = _events()[2].model_dump_json()[:25]
    path.write_text("\n".join(whole) + "\n" + cut, encoding="utf-8")
    assert read_events(path) == _events()[:2]


def test_truncated_multibyte_character_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line = Event(kind="note", message="ok").model_dump_json() + "\n"
    cut = Event(kind="note", message="héllo → wörld").model_dump_json().encode("utf-8")
    path.write_bytes(line.encode("utf-8") + cut[: cut.index("→".encode()) + 1])
    assert [e.message for e in read_events(path)] == ["ok"]


def test_resume_after_a_torn_write_starts_on_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_events()[0].model_dump_json() + "\n" + '{"kind": "stage_sta', encoding="utf-8")
    sink = JsonlSink(path)
    sink.handle(Event(kind="run_resumed", run_id="r1"))
    sink.close()
    assert [e.kind for e in read_events(path)] == ["run_started", "run_resumed"]
