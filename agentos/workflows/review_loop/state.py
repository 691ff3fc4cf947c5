"""State of one document's draft → validate → review → revise loop."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field

from agentos.workflows.reducers import append


class Finding(BaseModel):
    id: str
    section: str = ""
    severity: Literal["blocking", "major", "minor"]
    text: str


class Review(BaseModel):
    """The reviewer's structured verdict."""

    verdict: Literal["APPROVED", "REVISE", "BLOCKED"]
    summary: str
    findings: list[Finding] = Field(default_factory=list)


ExitReason = Literal["approved", "blocked", "max_revisions", "stagnation"]


class DocState(TypedDict, total=False):
    issue_number: int
    attempt: int
    draft: str
    rounds: int
    """Reviews done so far (across human-feedback re-entries)."""
    revisions: int
    """Revisions done so far."""
    validation_errors: list[str]
    review: dict[str, Any] | None
    human_feedback: list[str]
    history: Annotated[list[dict[str, Any]], append]
    """One entry per review round: round, verdict, summary, findings, models."""
    claimed: list[dict[str, Any]]
    """Findings the last revision said it addressed (a blocking one raised again = stagnation)."""
    redraws: int
    """Revisions that fell back to a full redraw because edits would not apply."""
    exit_reason: ExitReason | None
    outcome: Literal["PASS", "BLOCK"] | None
    doc_path: str | None
    message: str
