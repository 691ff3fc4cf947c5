"""Where issues live and pull requests go. Local files or GitHub, through one interface."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, field_validator

from agentos.errors import AgentosError, UsageError
from agentos.redact import redact

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
"""Repository roles allowed to push, and so to decide a gate from an issue comment."""


class ForgeUnavailableError(AgentosError):
    """The forge could not be reached, or refused for now (rate limit), after the retries.

    Nothing is lost: the run keeps its checkpoint, and the same command continues it.
    """


class Comment(BaseModel):
    id: int
    author: str
    body: str
    created_at: str = ""

    @field_validator("body")
    @classmethod
    def _no_secrets(cls, text: str) -> str:
        return redact(text)


class Issue(BaseModel):
    """An issue as read from a forge, with every known secret redacted from its text at intake:
    nothing written from it later (commits, the PR, state, events) can carry one."""

    number: int
    title: str
    body: str = ""
    labels: list[str] = Field(default_factory=list)
    state: Literal["open", "closed"] = "open"
    comments: list[Comment] = Field(default_factory=list)
    url: str | None = None

    @field_validator("title", "body")
    @classmethod
    def _no_secrets(cls, text: str) -> str:
        return redact(text)


class PullRequest(BaseModel):
    number: int
    title: str
    body: str
    head: str
    base: str
    url: str
    state: Literal["open", "closed", "merged"] = "open"
    draft: bool = False


def marked_body(marker: str, body: str) -> str:
    """`body` carrying `marker` (prepended on its own line when missing), so the next upsert
    finds the same comment: one comment per marker, ever. An empty marker is a usage error."""
    if not isinstance(marker, str) or not marker.strip():
        raise UsageError("upsert_comment needs a non-empty marker",
                         "pass a unique string such as '<!-- agentos:plan -->'")
    return body if marker in body else f"{marker}\n{body}"


@runtime_checkable
class Forge(Protocol):
    name: str
    """"local" or "github": shown in progress and status."""
    summary: str
    """One line for the progress view: which forge, which repository, and why this one."""

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; raises UnknownIssueError when there is none."""

    def open_issues(self, label: str | None = None) -> list[Issue]:
        """The open issues (with `label`, when given), oldest first; pull requests are not issues."""

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it: one comment per marker."""

    def add_labels(self, issue: int, labels: list[str]) -> None: ...

    def remove_labels(self, issue: int, labels: list[str]) -> None: ...

    def push_branch(self, branch: str) -> None:
        """Make `branch` (already committed locally) available to the forge."""

    def fetch_branch(self, branch: str) -> None:
        """Bring the branch from the remote, when it is there (a run continued from another machine)."""

    def check_push(self, branch: str) -> None:
        """Raise UsageError unless `branch` can be pushed later: write access, and no commits
        on the forge's copy of the branch that the local one lacks. Called before any model."""

    def permission(self, user: str) -> str:
        """`user`'s role on the repository: admin, maintain, write, triage, read or none."""

    def blob_url(self, ref: str, path: str) -> str | None:
        """A link to `path` on `ref` for people reading the PR, or None when there is none."""

    def find_pr(self, head: str) -> PullRequest | None: ...

    def find_or_create_pr(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Idempotent by head branch: a second call returns the first PR."""

    def update_pr(
        self, number: int, *, body: str | None = None, draft: bool | None = None
    ) -> PullRequest: ...
