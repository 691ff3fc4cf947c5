"""The code reviewer's structured verdict: the review loop's verdict, with findings placed in
the code and the tests the reviewer wrote to break the change."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentos.workflows.review_loop.state import Finding, Review


class CodeFinding(Finding):
    """A finding about the diff: where it is, how bad, and which spec item it concerns."""

    file: str = Field("", max_length=300)
    """The file the finding is about, relative to the repository root."""
    lines: str = Field("", max_length=40)
    """The line range in that file, e.g. "12-18"."""
    spec_item: str = Field("", max_length=200)
    """The spec item (acceptance criterion, change, test) the finding concerns, e.g. "AC2"."""


class AdversarialTest(BaseModel):
    """A new test file the reviewer expects the change to fail."""

    path: str = Field(max_length=300)
    """Where the test file goes, relative to the repository root; a new file, named like a test."""
    content: str
    """The whole file."""
    expects: str = Field("", max_length=1000)
    """What the test shows when it fails: the edge case or spec item it probes."""


class CodeReview(Review):
    """APPROVED | REVISE | BLOCKED, findings in the code, and up to N adversarial tests."""

    findings: list[CodeFinding] = Field(default_factory=list)
    adversarial_tests: list[AdversarialTest] = Field(default_factory=list, max_length=10)
    """More than `stages.review.adversarial_tests` are refused as over the limit (and said so)."""
