"""Routers choose the next node from facts in the state, never from a field a node wrote for them."""

from __future__ import annotations

from langgraph.graph import END

from agentos.llm.base import Message, ToolCall
from agentos.workflows.implementation import agent
from agentos.workflows.implementation.graph import check
from agentos.workflows.review_loop.graph import after_review, after_revise, after_validate, start


def test_a_handed_in_document_skips_the_draft_and_human_feedback_goes_to_a_revision():
    assert start({}) == "draft"
    assert start({"draft": "# Doc"}) == "validate"
    assert start({"draft": "# Doc", "human_feedback": ["say more"]}) == "revise"


def test_review_loop_ends_when_an_outcome_is_set():
    assert after_validate({"validation_errors": ["x"]}) == "revise"
    assert after_validate({"validation_errors": []}) == "review"
    assert after_validate({"validation_errors": ["x"], "outcome": "BLOCK"}) == END
    assert after_review({"review": {"verdict": "APPROVED"}}) == "finalize"
    assert after_review({"review": {"verdict": "REVISE"}}) == "revise"
    assert after_review({"review": {"verdict": "BLOCKED"}, "outcome": "BLOCK"}) == END
    assert after_revise({}) == "validate"
    assert after_revise({"outcome": "BLOCK"}) == END


def _reply(*calls: str) -> dict:
    tool_calls = [ToolCall(id=f"c{i}", name=name, arguments={}) for i, name in enumerate(calls)]
    return Message(role="assistant", content="", tool_calls=tool_calls).model_dump()


def test_the_implementers_last_reply_decides_between_tools_and_the_check():
    results = [Message(role="tool", tool_call_id="c0", content="ok").model_dump()]
    assert agent.wants_tools({"messages": [_reply("read_file")]})
    assert not agent.wants_tools({"messages": [_reply()]})
    assert agent.finished({"messages": [_reply("write_file", "finish"), *results]})
    assert not agent.finished({"messages": [_reply("write_file"), *results]})
    assert check({"phase": "red"}) == "red_check" and check({"phase": "green"}) == "test"
