"""State of the implementation workflow."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class ImplState(TypedDict, total=False):
    issue_number: int
    attempt: int
    human_feedback: list[str]
    """From a rejected before_pr gate: what the approver wants changed."""
    messages: list[dict[str, Any]]
    """The implementer conversation (Message dicts), kept so a resumed run continues it."""
    test_command: str
    base_sha: str
    step: int
    """Model calls made in this stage so far (the turn of the next call)."""
    round_steps: int
    fix_round: int
    test_run: dict[str, Any] | None
    refused: int
    next: str
    outcome: Literal["PASS", "BLOCK"] | None
    exit_reason: str | None
    message: str
    commit: str | None
