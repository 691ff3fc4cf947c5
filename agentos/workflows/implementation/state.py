"""State of the implementation workflow.

The conversation, the notes and the rounds only grow (a node returns its new entries), and the
per-purpose turn counts merge by key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from agentos.llm.base import Message
from agentos.workflows.reducers import append, merge


class ImplState(TypedDict, total=False):
    issue_number: int
    issue_title: str
    attempt: int
    human_feedback: list[str]
    """From a rejected before_pr gate: what the approver wants changed."""
    messages: Annotated[list[dict[str, Any]], append]
    """The built-in implementer's conversation (Message dicts), kept so a resumed run continues it."""
    feedback: str
    """For an agent CLI: what the last test run said, given with its next task."""
    phase: Literal["red", "green"]
    """red: tests first, only test files change, they must fail; green: the code that passes them."""
    test_template: str | None
    """The test command detected at the start ({python} unexpanded), pinned so that a file the
    implementer adds cannot switch the runner mid-stage; None when the config sets one."""
    fork_sha: str
    """The base commit: where the work branch left the base branch."""
    start_sha: str
    """HEAD when this attempt began (after keeping interrupted work)."""
    required_tests: list[str]
    """Tests that must pass: the spec's test mapping plus the tests seen failing in the red phase."""
    allowed_paths: list[str]
    """Paths the LLD lists, so protected ones among them may be changed."""
    baseline: dict[str, Any] | None
    """The full suite's TestRun at the base commit."""
    turns: Annotated[dict[str, int], merge]
    """Model calls made per purpose (impl.red, impl.green): the turn of the next call."""
    step: int
    round_steps: int
    round_tokens: int
    round_cost: float
    red_round: int
    fix_round: int
    red_commit: str | None
    red_tests: list[str]
    frozen_tests: list[str]
    """Test files the implementer may not change (a code reviewer's tests it must make pass)."""
    round_name: str | None
    """What a round of work is called in the test records, when not the implementation (e.g.
    a code review's fix)."""
    not_testing: list[str]
    best: dict[str, Any] | None
    """{sha, score, label, summary} of the best state so far, kept as a commit."""
    test_run: dict[str, Any] | None
    judgement: dict[str, Any] | None
    refused: int
    notes: Annotated[list[str], append]
    rounds: Annotated[list[dict[str, Any]], append]
    """{label, summary, action} of each judged test run."""
    outcome: Literal["PASS", "BLOCK"] | None
    exit_reason: str | None
    message: str
    commit: str | None


def new_round() -> ImplState:
    """A fresh budget for the implementer's next round."""
    return {"round_steps": 0, "round_tokens": 0, "round_cost": 0.0}


def say(to_cli: bool, text: str) -> ImplState:
    """Feedback for the implementer: a message in the built-in agent's conversation, or an
    agent CLI's next task."""
    if to_cli:
        return {"feedback": text}
    return {"messages": [Message(role="user", content=text).model_dump()]}
