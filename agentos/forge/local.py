"""The embedded forge: issues and pull requests as Markdown files under `.agentos/`.

`LocalForge` is the forge interface over those files: `local_issues` handles the issue and
comments files, `local_pulls` the pull request files, `local_store` finds, numbers, reads,
writes and locks them, and `local_records` says what their front matter may contain.
"""

from __future__ import annotations

from pathlib import Path

from agentos.errors import UsageError
from agentos.forge.base import Comment, Issue, PullRequest
from agentos.forge.local_issues import LocalComments, LocalIssues
from agentos.forge.local_pulls import LocalPulls
from agentos.forge.local_store import LocalStore
from agentos.repo.git import Git, GitError


class LocalForge:
    """Issues and pull requests kept as files in the repository itself; no network."""

    name = "local"

    def __init__(self, repo_root: Path, note: str | None = None):
        """`note` says why the local forge was chosen when GitHub was possible (shown to the user)."""
        self.root = Path(repo_root).resolve()
        self.note = note
        self.summary = "local (.agentos/issues)" + (f": {note}" if note else "")
        self.store = LocalStore(self.root, note)
        self.comments = LocalComments(self.store)
        self.issues = LocalIssues(self.store, self.comments)
        self.pulls = LocalPulls(self.store)

    # ----------------------------------------------------------------- issues

    def create_issue(self, title: str, body: str, labels: list[str] | None = None) -> Issue:
        """Write a new open issue numbered max(issues, pulls) + 1 and return it."""
        return self.issues.create(title, body, labels)

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; raises UnknownIssueError when there is none."""
        return self.issues.get(number)

    def list_issues(self) -> list[Issue]:
        """Every issue, with comments, in number order."""
        return self.issues.all()

    def open_issues(self, label: str | None = None) -> list[Issue]:
        """The open issues (with `label`, when given), in number order."""
        return [i for i in self.issues.all() if i.state == "open" and (label is None or label in i.labels)]

    def add_labels(self, issue: int, labels: list[str]) -> None:
        """Add labels not already present, keeping the existing order."""
        self.issues.add_labels(issue, labels)

    def remove_labels(self, issue: int, labels: list[str]) -> None:
        """Remove the given labels; ones the issue does not have are ignored."""
        self.issues.remove_labels(issue, labels)

    def add_comment(self, issue: int, body: str, author: str = "you") -> Comment:
        """Append a comment with the next id (ids are unique and increasing)."""
        return self.comments.add(issue, body, author)

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it (author `agentos`): one per marker, ever."""
        return self.comments.upsert(issue, marker, body)

    # -------------------------------------------------------------- repository

    def push_branch(self, branch: str) -> None:
        """No remote here: check that the branch exists locally; change nothing."""
        if not isinstance(branch, str) or not branch.strip():
            raise UsageError("push_branch needs a branch name", "pass the name of a local branch")
        try:
            proc = Git(self.root).call("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        except GitError as exc:
            raise UsageError(f"cannot run git in {self.root}: {exc.message}",
                             "install git and put it on PATH") from exc
        if proc.returncode != 0:
            detail = f" ({proc.stderr.strip().splitlines()[0]})" if proc.stderr.strip() else ""
            raise UsageError(f"branch {branch!r} does not exist in {self.root}{detail}",
                             f"create and commit it first, e.g. `git switch -c {branch}` then `git commit`")

    def fetch_branch(self, branch: str) -> None:
        """No remote here: the branch is in this repository or nowhere."""

    def check_push(self, branch: str) -> None:
        """Nothing to check: the branch stays in this repository, which we can write."""

    def permission(self, user: str) -> str:
        """No accounts here: whoever can edit these files can edit the repository."""
        return "write"

    def blob_url(self, ref: str, path: str) -> str | None:
        """No web view of the repository: the PR body names the path and the branch instead."""
        return None

    # ---------------------------------------------------------- pull requests

    def find_pr(self, head: str) -> PullRequest | None:
        """The open pull request from branch `head` (newest if several), or None."""
        return self.pulls.find(head)

    def find_or_create_pr(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Idempotent by head branch: an open PR for `head` is returned unchanged."""
        return self.pulls.find_or_create(head=head, base=base, title=title, body=body, draft=draft)

    def update_pr(
        self, number: int, *, body: str | None = None, draft: bool | None = None
    ) -> PullRequest:
        """Replace the body and/or the draft flag; None leaves that field as it is."""
        return self.pulls.update(number, body=body, draft=draft)
