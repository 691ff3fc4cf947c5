"""State of one document's draft → validate → review → revise loop."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from agentos.workflows.reducers import append

LIMITS = {"id": 80, "section": 200, "text": 4000, "summary": 2000}
"""Characters per field of a verdict. A verdict's fields go into the review log, the PR body and
every later prompt of the loop: however long the whole answer may be (llm/answers.py bounds it by
max_tokens), no one field may grow past what a reviewer needs to say."""
MAX_FINDINGS = 40


def _bounded(text: str, info: ValidationInfo) -> str:
    limit = LIMITS[info.field_name]
    if len(text) > limit:
        raise ValueError(f"{info.field_name} is {len(text):,} characters; at most {limit:,} are allowed: be brief")
    return text


class Finding(BaseModel):
    id: str
    section: str = ""
    severity: Literal["blocking", "major", "minor"]
    text: str

    _bounded = field_validator("id", "section", "text")(_bounded)


class Review(BaseModel):
    """The reviewer's structured verdict."""

    verdict: Literal["APPROVED", "REVISE", "BLOCKED"]
    summary: str
    findings: list[Finding] = Field(default_factory=list)

    _bounded = field_validator("summary")(_bounded)

    @field_validator("findings")
    @classmethod
    def _few(cls, findings: list[Finding]) -> list[Finding]:
        if len(findings) > MAX_FINDINGS:
            raise ValueError(f"{len(findings)} findings; at most {MAX_FINDINGS}: merge the small ones")
        return findings


def same_model_warning(stage: str, role: str, author: str, reviewer: str) -> str | None:
    """The warning when a stage's reviewer is the model whose work it reviews, else None."""
    if author != reviewer:
        return None
    return f"warning: {stage} {role} and reviewer are the same model ({author}); a different reviewer catches more"


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
