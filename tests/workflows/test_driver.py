"""The driver and the one execute path: gates decided or paused, how a run's end is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from agentos import runs
from agentos.errors import BudgetExhausted
from agentos.llm.retry import ModelCallFailed
from agentos.paths import RepoLayout
from agentos.progress.events import MemorySink, Progress
from agentos.workflows.orchestrator.driver import RunContext, drive, graph_config
from agentos.workflows.orchestrator.run import execute, run_workflow
from agentos.workflows.orchestrator.session import RunOptions, open_session

from tests.helpers.sample import edit_script


class GateState(TypedDict, total=False):
    decision: Any


def _gated_graph(saver):
    g = StateGraph(GateState)
    g.add_node("gate", lambda state: {"decision": interrupt({"gate": "after_lld", "stage": "lld"})})
    g.add_edge(START, "gate")
    g.add_edge("gate", END)
    return g.compile(checkpointer=saver)


def _context(tmp_path: Path, ask=None, from_comments=None) -> tuple[RunContext, MemorySink]:
    layout = RepoLayout(tmp_path)
    record = runs.new_run(layout, 1, "orchestrate")
    sink = MemorySink()
    ctx = RunContext(_gated_graph(InMemorySaver()), graph_config(record), record, layout,
                     Progress(record.run_id, [sink]), ask, from_comments)
    return ctx, sink


def _kinds(sink: MemorySink) -> list[tuple[str, str | None]]:
    return [(e.kind, e.verdict) for e in sink.events]


def test_a_gate_nobody_decided_pauses_the_run_and_records_the_gate(tmp_path):
    ctx, sink = _context(tmp_path, ask=lambda payload: None)
    state, paused = drive(ctx, {})
    assert paused == {"gate": "after_lld", "stage": "lld"} and state == {}
    saved = runs.latest(ctx.layout, 1)
    assert (saved.status, saved.gate) == ("paused", paused)
    assert _kinds(sink) == [("gate_paused", None)]


def test_the_terminal_decides_when_nothing_was_recorded(tmp_path):
    asked = []
    ctx, sink = _context(tmp_path, ask=lambda payload: asked.append(payload) or {"action": "approve", "by": "terminal"})
    state, paused = drive(ctx, {})
    assert paused is None and state["decision"]["action"] == "approve" and asked == [{"gate": "after_lld", "stage": "lld"}]
    # While the terminal asks, the run is paused (the views say so), then decided.
    assert _kinds(sink) == [("gate_paused", None), ("gate_decided", "approve")]
    assert sink.events[1].data == {"by": "terminal"}
    assert (runs.latest(ctx.layout, 1).status, runs.latest(ctx.layout, 1).gate) == ("running", None)


def test_a_recorded_decision_wins_over_the_terminal_and_is_consumed(tmp_path):
    asked = []
    ctx, sink = _context(tmp_path, ask=asked.append)
    decision = runs.decision_path(ctx.layout, ctx.record)
    decision.write_text(json.dumps({"gate": "after_lld", "action": "reject", "feedback": "name the edge cases"}))
    state, paused = drive(ctx, {})
    assert paused is None and state["decision"]["feedback"] == "name the edge cases" and not asked
    assert not decision.exists() and _kinds(sink) == [("gate_decided", "reject")]


def test_an_issue_comment_decides_before_the_terminal(tmp_path):
    asked, seen = [], []
    comment = {"gate": "after_lld", "action": "approve", "by": "@maintainer"}
    ctx, sink = _context(tmp_path, ask=asked.append, from_comments=lambda record: seen.append(record.status) or comment)
    _, paused = drive(ctx, {})
    assert paused is None and seen == ["paused"] and not asked
    assert sink.events[0].data == {"by": "@maintainer"}


class _Failing:
    """A job whose graph raises `error` in its only node."""

    def __init__(self, error: Exception):
        self.error = error

    def build(self, services, saver):
        def fail(state):
            raise self.error

        g = StateGraph(GateState)
        g.add_node("fail", fail)
        g.add_edge(START, "fail")
        g.add_edge("fail", END)
        return g.compile(checkpointer=saver)

    def first_input(self, ctx, services):
        return {}

    def blocked(self, exc):
        raise AssertionError("only an unusable answer blocks")

    def outcome(self, state, paused):
        raise AssertionError("a failed run has no outcome")


@pytest.mark.parametrize("error, status", [
    (ModelCallFailed("anthropic: overloaded after 4 attempts\nmore detail"), "failed"),
    (BudgetExhausted("run budget $1.00 reached"), "budget"),
])
def test_an_expected_error_is_noted_once_and_raised_again(sample_repo, error, status):
    session = open_session(RunOptions(issue=1, repo=sample_repo))
    record = runs.new_run(session.layout, 1, "triage")
    with pytest.raises(type(error)):
        execute(session, record, _Failing(error), plain=True)
    saved = runs.latest(session.layout, 1, kind="triage")
    assert (saved.status, saved.message) == (status, str(error).splitlines()[0])
    events = (session.layout.run_dir(record.run_id) / "events.jsonl").read_text().splitlines()
    assert [json.loads(e)["verdict"] for e in events if json.loads(e)["kind"] == "run_finished"] == [status]


def test_a_workflow_blocked_by_an_unusable_answer_ends_blocked_once(sample_repo):
    edit_script(sample_repo, "drafter", "triage.draft", [{"error": "garbled"}])
    result = run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True))
    assert (result.exit_code, result.status) == (4, "blocked")
    assert result.message == "triage: blocked: model call failed: scripted:.agentos/scripted/drafter.yaml: garbled"
    record = runs.latest(RepoLayout(sample_repo), 1, kind="triage")
    assert record.status == "blocked" and record.message.startswith("model call failed")
    events = (RepoLayout(sample_repo).run_dir(record.run_id) / "events.jsonl").read_text().splitlines()
    assert [json.loads(e)["verdict"] for e in events if json.loads(e)["kind"] == "run_finished"] == ["blocked"]
