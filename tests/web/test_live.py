"""A run's events as Server-Sent Events: the log followed from an offset, torn lines held back,
the stream ended once nothing runs the run."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from agentos.web.live import follow
from tests.web.conftest import client_for


def _collect(path: Path, offset: int, live_rounds: int) -> list[str]:
    """What the stream sends while the run is live for `live_rounds` polls."""
    left = [live_rounds]

    def is_live() -> bool:
        left[0] -= 1
        return left[0] >= 0

    async def run() -> list[str]:
        return [chunk async for chunk in follow(path, offset, is_live, poll_s=0.01)]

    return asyncio.run(run())


def test_events_are_sent_with_their_offsets_and_a_torn_line_waits_for_its_end(tmp_path: Path):
    log = tmp_path / "events.jsonl"
    first = json.dumps({"kind": "run_started", "message": "a"}) + "\n"
    log.write_text(first + "not json\n" + '{"kind": "note", "mess')

    chunks = _collect(log, 0, live_rounds=0)
    events = [c for c in chunks if c.startswith("id:")]
    assert len(events) == 1 and events[0].startswith(f"id: {len(first)}\nevent: run\n")
    assert chunks[-1] == "event: end\ndata: {}\n\n"

    with log.open("a") as handle:
        handle.write('age": "b"}\n')
    resumed = [c for c in _collect(log, len(first), live_rounds=0) if c.startswith("id:")]
    assert len(resumed) == 1 and json.loads(resumed[0].split("data: ", 1)[1])["message"] == "b"
    assert resumed[0].startswith(f"id: {log.stat().st_size}\n")


def test_the_stream_of_a_paused_run_sends_its_history_then_ends(shown_repo: Path):
    client, _ = client_for(shown_repo)

    body = client.get("/issues/1/events").text
    kinds = [json.loads(d)["kind"] for d in re.findall(r"^data: (.+)$", body, re.M) if d != "{}"]
    assert kinds[0] == "run_started" and "gate_paused" in kinds and body.endswith("event: end\ndata: {}\n\n")
    last_id = int(re.findall(r"^id: (\d+)$", body, re.M)[-1])
    again = client.get("/issues/1/events", headers={"last-event-id": str(last_id)}).text
    assert "event: run" not in again and again.endswith("event: end\ndata: {}\n\n")
