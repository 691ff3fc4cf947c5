"""Console sinks: plain lines for pipes, a live Rich table for terminals; neither may crash a run."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from agentos.progress.console import LiveSink, PlainSink, make_console_sink
from agentos.progress.events import Event

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
STAGES = ["triage", "lld", "spec", "impl", "pr"]
LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<column>\S+) +(?P<text>.*)$")


def ev(kind: str, second: float, **fields: Any) -> Event:
    ts = (T0 + timedelta(seconds=second)).isoformat(timespec="milliseconds")
    return Event(kind=kind, run_id="r1", ts=ts, **fields)


def a_run() -> list[Event]:
    """A whole run: a retried stage, a skip, paid and cached calls, a gate, a finish."""
    return [
        ev("run_started", 0, data={"issue": 42, "title": "Fix widget", "stages": STAGES,
                                   "forge": "local", "run_dir": "/runs/r1"}),
        ev("stage_started", 1, stage="triage", attempt=1),
        ev("model_call", 2, stage="triage", model="scripted:demo", purpose="triage.draft",
           input_tokens=1234, output_tokens=340, cost_usd=0.0125, data={"latency_s": 1.5}),
        ev("stage_finished", 3, stage="triage", verdict="PASS", message="clear issue", attempt=1),
        ev("stage_skipped", 4, stage="lld", message="small change"),
        ev("stage_started", 5, stage="spec", attempt=1),
        ev("model_call", 6, stage="spec", model="scripted:demo", purpose="spec.draft",
           input_tokens=2000, output_tokens=500, cost_usd=0.02, data={"cached": True}),
        ev("artifact_written", 7, stage="spec", data={"path": "docs/spec/42.md"}),
        ev("stage_finished", 8, stage="spec", verdict="PASS", message="approved after 2 rounds"),
        ev("stage_started", 9, stage="impl", attempt=1),
        ev("tests_ran", 10, stage="impl", message="3 passed, 2 failed", verdict="FAIL"),
        ev("stage_finished", 11, stage="impl", verdict="RETRY", message="tests failed", attempt=1),
        ev("stage_started", 12, stage="impl", attempt=2),
        ev("stage_finished", 14, stage="impl", verdict="BLOCK", message="still failing", attempt=2),
        ev("gate_paused", 15, stage="before_pr", message="approve the diff"),
        ev("gate_decided", 16, stage="before_pr", verdict="reject"),
        ev("note", 17, message="giving up"),
        ev("run_finished", 18, verdict="blocked", message="impl blocked"),
    ]


def malformed() -> list[Any]:
    """Things a buggy emitter could hand a sink."""
    return [
        None,
        {"kind": "note"},
        Event.model_construct(kind="model_call", stage="impl", ts="not a time", input_tokens="lots",
                              output_tokens=None, cost_usd=None, data=None),
        Event.model_construct(kind="no_such_kind", ts=None),
        Event.model_construct(kind="run_started", ts="", data={"stages": 5, "issue": "x"}),
    ]


def plain_lines(events: list[Event]) -> list[str]:
    buf = io.StringIO()
    sink = PlainSink(buf)
    for event in events:
        sink.handle(event)
    sink.close()
    return buf.getvalue().splitlines()


def test_plain_sink_writes_one_aligned_line_per_event() -> None:
    lines = plain_lines(a_run())
    assert len(lines) == len(a_run())
    assert all(LINE.match(line) for line in lines)
    assert {line.index(m.group("text")) for line in lines if (m := LINE.match(line))} == {18}


def test_plain_sink_line_contents() -> None:
    body = [line[9:] for line in plain_lines(a_run())]
    assert body[0] == "run      started issue #42 · Fix widget · local · triage→lld→spec→impl→pr · /runs/r1"
    assert body[1] == "triage   started (attempt 1)"
    assert body[2] == "triage   model triage.draft scripted:demo 1.2k→340 tok $0.0125 1.5s"
    assert body[3] == "triage   PASS clear issue (2.0s)"
    assert body[4] == "lld      skipped: small change"
    assert body[6] == "spec     model spec.draft scripted:demo 2.0k→500 tok cached"
    assert body[7] == "spec     wrote docs/spec/42.md"
    assert body[10] == "impl     tests FAIL 3 passed, 2 failed"
    assert body[12] == "impl     started (attempt 2)"
    assert body[13] == "impl     BLOCK still failing (4.0s)"
    assert body[14] == "gate     paused at before_pr — approve the diff"
    assert body[15] == "gate     before_pr reject"
    assert body[16] == "run      giving up"
    assert body[17] == ("run      blocked — impl blocked "
                        "[calls 1+1 cached · 1.2k→340 tok · $0.0125 · 18.0s]")


def test_plain_sink_shows_resumed_done_stages() -> None:
    lines = plain_lines([ev("run_resumed", 0, data={"issue": 42, "stages": STAGES,
                                                    "done_stages": {"triage": "PASS", "lld": "PASS"}})])
    assert lines[0].endswith("(done: triage PASS, lld PASS)")


def test_plain_sink_survives_malformed_events() -> None:
    buf = io.StringIO()
    sink = PlainSink(buf)
    for bad in malformed():
        sink.handle(bad)  # type: ignore[arg-type]
    sink.handle(ev("note", 1, message="still alive"))
    assert buf.getvalue().splitlines()[-1].endswith("run      still alive")


def test_plain_sink_survives_a_stream_that_cannot_encode_arrows() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    sink = PlainSink(stream)
    sink.handle(ev("model_call", 0, stage="lld", model="m", purpose="lld.review",
                   input_tokens=5, output_tokens=6))
    sink.close()
    assert b"lld.review m 5?6 tok" in raw.getvalue()


def terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120), buf


def final_frame(buf: io.StringIO) -> str:
    """The text of the last frame Live drew (from its last header line on)."""
    plain = Text.from_ansi(buf.getvalue()).plain
    return plain[plain.rindex("agentos · "):]


def test_live_sink_final_table_has_stages_verdicts_and_totals() -> None:
    console, buf = terminal()
    sink = LiveSink(console=console)
    for event in a_run():
        sink.handle(event)
    sink.close()
    frame = final_frame(buf)
    assert "#42 · Fix widget · local · blocked" in frame
    for heading in ("Stage", "Status", "Attempt", "Elapsed", "Calls", "Tokens", "Cost"):
        assert heading in frame
    rows = {line.split()[0]: line.split()[1:] for line in frame.splitlines()
            if line.split() and line.split()[0] in [*STAGES, "total"]}
    assert rows["triage"] == ["PASS", "1", "2.0s", "1", "1.2k→340", "$0.0125"]
    assert rows["lld"] == ["skipped"]
    assert rows["spec"] == ["PASS", "1", "3.0s", "0+1", "cached", "0→0", "$0.0000"]
    assert rows["impl"] == ["BLOCK", "2", "4.0s"]
    assert rows["pr"] == ["pending"]
    assert rows["total"] == ["blocked", "18.0s", "1+1", "cached", "1.2k→340", "$0.0125"]
    assert "run blocked: impl blocked" in frame
    assert "paused at gate before_pr: approve the diff" in frame


def test_live_sink_shows_only_the_latest_notes() -> None:
    console, buf = terminal()
    sink = LiveSink(console=console)
    for i in range(8):
        sink.handle(ev("artifact_written", i, stage="lld", data={"path": f"doc{i}.md"}))
    sink.close()
    frame = final_frame(buf)
    assert "wrote doc7.md" in frame and "wrote doc3.md" in frame
    assert "wrote doc2.md" not in frame


def test_live_sink_marks_the_running_stage() -> None:
    sink = LiveSink(console=terminal()[0])
    sink.view.apply(a_run()[0])
    sink.view.apply(ev("stage_started", 1, stage="lld", attempt=1))
    out = Console(file=io.StringIO(), width=120, record=True)
    out.print(sink.render(now=T0 + timedelta(seconds=31)))
    lld = next(line for line in out.export_text().splitlines() if line.split()[:1] == ["lld"])
    assert "running" in lld and "30.0s" in lld


def test_live_sink_handle_survives_malformed_events() -> None:
    console, buf = terminal()
    sink = LiveSink(console=console)
    for bad in malformed():
        sink.handle(bad)  # type: ignore[arg-type]
    sink.handle(ev("run_started", 0, data={"issue": 1, "title": "Still here", "stages": ["triage"]}))
    sink.close()
    assert "Still here" in final_frame(buf)


def test_live_sink_survives_a_rendering_error() -> None:
    """A frame that fails to render leaves the previous one on screen; events still count, and
    the next good frame shows them."""
    console, buf = terminal()
    sink = LiveSink(console=console)
    sink.handle(ev("run_started", 0, data={"issue": 7, "title": "Drawn before", "stages": ["triage"]}))
    sink._live.refresh()  # draw now rather than on the refresh thread's next tick
    drawn = final_frame(buf)

    def broken(now: datetime | None = None) -> None:
        raise RuntimeError("render failed")

    sink.render = broken  # type: ignore[method-assign]
    sink.handle(ev("stage_started", 1, stage="triage", attempt=1))
    sink._live.refresh()  # a redraw while rendering fails
    assert final_frame(buf).rstrip() == drawn.rstrip() and "Drawn before" in drawn and "pending" in drawn
    del sink.render  # rendering works again
    sink.close()
    assert "running" in final_frame(buf) and "Drawn before" in final_frame(buf)


def test_live_sink_ignores_events_after_close_and_close_twice() -> None:
    console, buf = terminal()
    sink = LiveSink(console=console)
    sink.close()
    sink.handle(ev("note", 0, message="late"))
    sink.close()
    assert buf.getvalue() == ""


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_console_sink_picks_live_only_for_a_real_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    assert isinstance(make_console_sink(io.StringIO()), PlainSink)
    assert isinstance(make_console_sink(FakeTty()), LiveSink)
    assert isinstance(make_console_sink(FakeTty(), force_plain=True), PlainSink)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_console_sink(FakeTty()), PlainSink)


def test_live_sink_suspends_for_a_prompt_and_restarts_on_the_next_event():
    buf = io.StringIO()
    sink = LiveSink(console=Console(file=buf, force_terminal=True, width=100))
    sink.handle(Event(kind="run_started", data={"stages": ["lld"]}))
    assert sink._live.is_started
    sink.suspend()
    assert not sink._live.is_started
    sink.handle(Event(kind="stage_started", stage="lld", attempt=1))
    assert sink._live.is_started
    sink.close()
    assert "lld" in buf.getvalue()


def test_the_step_inside_a_running_stage_shows_live_and_in_plain_lines() -> None:
    console, buf = terminal()
    live = LiveSink(console=console)
    stream = io.StringIO()
    plain = PlainSink(stream)
    events = [ev("run_started", 0, data={"stages": STAGES}), ev("stage_started", 1, stage="lld", attempt=1),
              ev("step", 2, stage="lld", verdict="REVISE", message="review round 2 · REVISE, 3 findings")]
    for event in events:
        live.handle(event)
        plain.handle(event)
    assert "lld · review round 2 · REVISE, 3 findings" in _rendered(live)
    assert stream.getvalue().splitlines()[-1].endswith("lld      review round 2 · REVISE, 3 findings")


def _rendered(sink: LiveSink, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(sink.render())
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 60, 45])
def test_a_narrow_terminal_drops_columns_instead_of_cutting_headers(width: int) -> None:
    sink = LiveSink(console=Console(file=io.StringIO(), width=width, force_terminal=True))
    for event in a_run():
        sink.handle(event)
    text = _rendered(sink, width)
    assert "…" not in text.splitlines()[2]  # the header row: every title whole
    assert all(len(line) <= width for line in text.splitlines())
    assert "Stage" in text and "Status" in text and "Elapsed" in text


def test_a_resumed_run_keeps_its_earlier_stages_and_totals() -> None:
    history = a_run()[:4]  # triage done with one paid call
    sink = PlainSink(io.StringIO(), history=history)
    sink.handle(ev("run_resumed", 20, data={"stages": STAGES, "done_stages": {"triage": "PASS"}}))
    assert sink.view.stages["triage"].calls == 1 and sink.view.totals().input_tokens == 1234

