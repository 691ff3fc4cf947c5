"""RunView: per-stage aggregation that replays identically from an events log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from agentos.progress.events import Event
from agentos.progress.log import JsonlSink, read_events
from agentos.progress.view import RunView, fmt_calls, fmt_cost, fmt_duration, fmt_tokens

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
STAGES = ["triage", "lld", "spec", "impl", "pr"]


def ev(kind: str, second: float, **fields: Any) -> Event:
    """An event stamped `second` seconds after T0."""
    ts = (T0 + timedelta(seconds=second)).isoformat(timespec="milliseconds")
    return Event(kind=kind, run_id="r1", ts=ts, **fields)


def call(second: float, stage: str, tokens_in: int, tokens_out: int, cost: float,
         cached: bool = False) -> Event:
    return ev("model_call", second, stage=stage, model="scripted:demo", purpose=f"{stage}.draft",
              input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost,
              data={"latency_s": 0.5, "cached": cached})


def started(second: float = 0, **data: Any) -> Event:
    return ev("run_started", second, data={"issue": 42, "title": "Fix widget", "stages": STAGES,
                                           "forge": "local", "run_dir": "/runs/r1", **data})


def test_header_and_stage_order_from_run_started() -> None:
    view = RunView.from_events([started()])
    assert (view.issue, view.title, view.forge, view.run_dir) == (42, "Fix widget", "local", "/runs/r1")
    assert list(view.stages) == STAGES
    assert all(sv.status == "pending" for sv in view.stages.values())
    assert view.status == "running"


def test_unknown_stage_gets_a_row_at_the_end() -> None:
    view = RunView.from_events([started(), ev("stage_started", 1, stage="docs", attempt=1)])
    assert list(view.stages) == [*STAGES, "docs"]
    assert view.stages["docs"].status == "running"


def test_calls_tokens_and_cost_add_up_per_stage_and_in_totals() -> None:
    view = RunView.from_events([
        started(),
        ev("stage_started", 1, stage="triage", attempt=1),
        call(2, "triage", 1000, 200, 0.01),
        call(3, "triage", 500, 100, 0.02),
        ev("stage_finished", 4, stage="triage", verdict="PASS", attempt=1),
        ev("stage_started", 5, stage="lld", attempt=1),
        call(6, "lld", 2000, 400, 0.05),
    ])
    triage = view.stages["triage"]
    assert (triage.calls, triage.input_tokens, triage.output_tokens) == (2, 1500, 300)
    assert round(triage.cost_usd, 6) == 0.03
    total = view.totals()
    assert (total.calls, total.input_tokens, total.output_tokens) == (3, 3500, 700)
    assert round(total.cost_usd, 6) == 0.08


def test_cached_calls_are_counted_apart_and_cost_nothing() -> None:
    view = RunView.from_events([
        started(),
        call(1, "lld", 1000, 200, 0.01, cached=True),
        call(2, "lld", 1000, 200, 0.01, cached=True),
        call(3, "lld", 300, 50, 0.004),
    ])
    lld = view.stages["lld"]
    assert (lld.calls, lld.cached_calls) == (1, 2)
    assert (lld.input_tokens, lld.output_tokens, lld.cost_usd) == (300, 50, 0.004)
    assert view.totals().cached_calls == 2
    assert fmt_calls(lld) == "1+2 cached"


def test_elapsed_comes_from_event_timestamps() -> None:
    view = RunView.from_events([
        started(),
        ev("stage_started", 10, stage="triage", attempt=1),
        ev("stage_finished", 14.5, stage="triage", verdict="PASS", message="clear issue"),
        ev("run_finished", 20, verdict="done"),
    ])
    triage = view.stages["triage"]
    assert triage.elapsed_s() == 4.5
    assert (triage.status, triage.message) == ("PASS", "clear issue")
    assert view.elapsed_s() == 20
    assert view.stages["pr"].elapsed_s() is None


def test_running_stage_elapsed_is_measured_against_now() -> None:
    view = RunView.from_events([started(), ev("stage_started", 10, stage="impl", attempt=1)])
    assert view.stages["impl"].elapsed_s(now=T0 + timedelta(seconds=25)) == 15
    assert view.elapsed_s(now=T0 + timedelta(seconds=25)) == 25


def test_retry_attempts_sum_time_spent_not_the_gap_between() -> None:
    view = RunView.from_events([
        started(),
        ev("stage_started", 0, stage="impl", attempt=1),
        ev("stage_finished", 3, stage="impl", verdict="RETRY", message="2 tests failed", attempt=1),
        ev("stage_started", 100, stage="impl", attempt=2),
        ev("stage_finished", 102, stage="impl", verdict="PASS", attempt=2),
    ])
    impl = view.stages["impl"]
    assert (impl.status, impl.attempt, impl.elapsed_s()) == ("PASS", 2, 5)
    assert impl.started == T0 and impl.finished == T0 + timedelta(seconds=102)
    assert any("RETRY: 2 tests failed" in n.text for n in view.notes)


def test_attempt_counts_up_when_not_given() -> None:
    view = RunView.from_events([
        ev("stage_started", 0, stage="spec"),
        ev("stage_finished", 1, stage="spec", verdict="RETRY"),
        ev("stage_started", 2, stage="spec"),
    ])
    assert view.stages["spec"].attempt == 2


def test_resumed_run_shows_done_stages_and_restarts_an_orphaned_one() -> None:
    view = RunView.from_events([
        started(),
        ev("stage_started", 1, stage="triage", attempt=1),
        ev("run_resumed", 500, data={"issue": 42, "stages": STAGES,
                                     "done_stages": {"triage": "PASS", "lld": "PASS"}}),
        ev("stage_started", 501, stage="spec", attempt=1),
    ])
    statuses = {name: sv.status for name, sv in view.stages.items()}
    assert statuses == {"triage": "PASS", "lld": "PASS", "spec": "running", "impl": "pending", "pr": "pending"}
    assert view.title == "Fix widget"


def test_resume_in_a_fresh_process_sees_only_the_resume() -> None:
    view = RunView.from_events([
        ev("run_resumed", 0, data={"issue": 9, "stages": STAGES, "done_stages": {"triage": "PASS"}}),
    ])
    assert view.issue == 9 and view.status == "running"
    assert view.stages["triage"].status == "PASS"
    assert view.stages["triage"].elapsed_s() is None


def test_skip_gate_and_finish() -> None:
    view = RunView.from_events([
        started(),
        ev("stage_skipped", 1, stage="lld", message="trivial change"),
        ev("stage_started", 2, stage="impl", attempt=1),
        ev("gate_paused", 3, stage="before_pr", message="approve the diff"),
    ])
    assert view.stages["lld"].status == "skipped"
    assert (view.status, view.gate) == ("paused", "before_pr")
    view.apply(ev("gate_decided", 4, stage="before_pr", verdict="approve"))
    assert (view.status, view.gate) == ("running", None)
    view.apply(ev("run_finished", 9, verdict="budget", message="cost cap reached"))
    assert (view.status, view.message) == ("budget", "cost cap reached")
    assert view.stages["impl"].status == "stopped"
    assert view.stages["impl"].elapsed_s() == 7


def test_notes_keep_only_the_latest_notable_messages() -> None:
    events = [started()] + [ev("artifact_written", i, stage="lld", data={"path": f"doc{i}.md"})
                            for i in range(1, 8)]
    view = RunView.from_events(events)
    assert [n.text for n in view.notes] == [f"wrote doc{i}.md" for i in range(3, 8)]


def test_failed_tests_are_an_error_note() -> None:
    view = RunView.from_events([ev("tests_ran", 1, stage="impl", message="3 passed, 2 failed",
                                   verdict="FAIL")])
    assert view.notes[-1].level == "error"


def test_replaying_the_log_reproduces_the_view(tmp_path: Path) -> None:
    events = [
        started(),
        ev("stage_started", 1, stage="triage", attempt=1),
        call(2, "triage", 800, 90, 0.003),
        call(2.5, "triage", 800, 90, 0.003, cached=True),
        ev("stage_finished", 3, stage="triage", verdict="PASS"),
        ev("tests_ran", 4, stage="impl", message="5 passed, 0 failed", verdict="PASS"),
        ev("run_finished", 5, verdict="done"),
    ]
    live = RunView()
    sink = JsonlSink(tmp_path / "events.jsonl")
    for event in events:
        live.apply(event)
        sink.handle(event)
    sink.close()
    assert RunView.from_events(read_events(tmp_path / "events.jsonl")) == live


def test_formatters() -> None:
    assert [fmt_tokens(n) for n in (340, 1234, 2_500_000)] == ["340", "1.2k", "2.5M"]
    assert fmt_cost(0.0123456) == "$0.0123"
    assert [fmt_duration(s) for s in (None, 4.31, 65, 7380)] == ["", "4.3s", "1m05s", "2h03m"]
