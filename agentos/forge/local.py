"""The embedded forge: issues and pull requests as Markdown files under `.agentos/`.

`LocalForge` is the forge interface over those files; `local_store` reads, writes and locks
them, and `local_records` says what their front matter may contain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentos.errors import UsageError
from agentos.forge.base import Comment, Issue, PullRequest
from agentos.forge.local_records import (ISSUE_KEYS_HINT, PR_KEYS_HINT, IssueFrontMatter, PullFrontMatter,
                                         label_list, merge_labels)
from agentos.forge.local_store import LocalStore, normalise_newlines
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

    # ----------------------------------------------------------------- issues

    def create_issue(self, title: str, body: str, labels: list[str] | None = None) -> Issue:
        """Write a new open issue numbered max(issues, pulls) + 1 and return it."""
        meta = {"number": 0, "title": _one_line(title, "issue title"), "state": "open",
                "labels": merge_labels([], labels or []), "created_at": _now()}
        with self.store.locked():
            number = meta["number"] = self.store.next_number()
            self.store.write_doc(self.store.issue_path(number), meta, body)
        return self.get_issue(number)

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; raises UnknownIssueError when there is none."""
        path = self.store.require_issue(number)
        meta, body = self.store.read_doc(path, ISSUE_KEYS_HINT)
        front = IssueFrontMatter.read(meta, number, self.store.rel(path), ISSUE_KEYS_HINT)
        comments = [self.store.comment(number, item) for item in self.store.read_comments(number)]
        return Issue(number=number, title=front.title, body=body, labels=merge_labels([], front.labels),
                     state=front.state, comments=comments, url=path.as_uri())

    def list_issues(self) -> list[Issue]:
        """Every issue, with comments, in number order."""
        return [self.get_issue(n) for n in self.store.issue_numbers()]

    def add_labels(self, issue: int, labels: list[str]) -> None:
        """Add labels not already present, keeping the existing order."""
        self._edit_labels(issue, lambda current: merge_labels(current, labels))

    def remove_labels(self, issue: int, labels: list[str]) -> None:
        """Remove the given labels; ones the issue does not have are ignored."""
        drop = set(label_list(labels))
        self._edit_labels(issue, lambda current: [x for x in current if x not in drop])

    def _edit_labels(self, issue: int, change: Callable[[list[str]], list[str]]) -> None:
        """Apply `change(current labels) -> new labels` to the issue file; write only on change."""
        with self.store.locked():
            path = self.store.require_issue(issue)
            meta, body = self.store.read_doc(path, ISSUE_KEYS_HINT)
            current = self.get_issue(issue).labels
            new = change(current)
            if new != current:
                self.store.write_doc(path, {**meta, "labels": new}, body)

    # --------------------------------------------------------------- comments

    def add_comment(self, issue: int, body: str, author: str = "you") -> Comment:
        """Append a comment with the next id (ids are unique and increasing)."""
        with self.store.locked():
            self.store.require_issue(issue)
            return self._append_comment(issue, self.store.read_comments(issue), body, author)

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it (author `agentos`).

        If `body` lacks the marker it is prepended on its own line, so the next call
        still finds this comment: one comment per marker, ever.
        """
        if not isinstance(marker, str) or not marker.strip():
            raise UsageError("upsert_comment needs a non-empty marker",
                             "pass a unique string such as '<!-- agentos:plan -->'")
        body = normalise_newlines(body)
        body = body if marker in body else f"{marker}\n{body}"
        with self.store.locked():
            self.store.require_issue(issue)
            raw = self.store.read_comments(issue)
            for item in raw:
                if marker in str(item.get("body") or ""):
                    if item.get("body") != body:
                        item["body"] = body
                        self.store.write_comments(issue, raw)
                    return self.store.comment(issue, item)
            return self._append_comment(issue, raw, body, "agentos")

    def _append_comment(self, issue: int, raw: list[dict[str, Any]], body: str, author: str) -> Comment:
        """Add a comment with id = max + 1 to `raw` and write the file (caller holds the lock)."""
        item = {"id": max((int(c["id"]) for c in raw), default=0) + 1, "author": author,
                "body": normalise_newlines(body), "created_at": _now()}
        self.store.write_comments(issue, [*raw, item])
        return self.store.comment(issue, item)

    # ---------------------------------------------------------- pull requests

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

    def check_push(self, branch: str) -> None:
        """Nothing to check: the branch stays in this repository, which we can write."""

    def permission(self, user: str) -> str:
        """No accounts here: whoever can edit these files can edit the repository."""
        return "write"

    def blob_url(self, ref: str, path: str) -> str | None:
        """No web view of the repository: the PR body names the path and the branch instead."""
        return None

    def list_prs(self) -> list[PullRequest]:
        """Every pull request in number order."""
        return [self._get_pr(n) for n in self.store.pr_numbers()]

    def find_pr(self, head: str) -> PullRequest | None:
        """The open pull request from branch `head` (newest if several), or None."""
        found = [pr for pr in self.list_prs() if pr.head == head and pr.state == "open"]
        return found[-1] if found else None

    def find_or_create_pr(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Idempotent by head branch: an open PR for `head` is returned unchanged."""
        head, base = _one_line(head, "head branch"), _one_line(base, "base branch")
        if head == base:
            raise UsageError(f"a pull request needs different head and base branches (both {head!r})",
                             "commit the work on its own branch and open the PR from there")
        meta = {"number": 0, "title": _one_line(title, "pull request title"), "head": head, "base": base,
                "state": "open", "draft": bool(draft), "created_at": _now(), "url": ""}
        with self.store.locked():
            existing = self.find_pr(head)
            if existing is not None:
                return existing
            number = meta["number"] = self.store.next_number()
            path = self.store.pr_path(number)
            meta["url"] = path.as_uri()
            self.store.write_doc(path, meta, body)
        return self._get_pr(number)

    def update_pr(
        self, number: int, *, body: str | None = None, draft: bool | None = None
    ) -> PullRequest:
        """Replace the body and/or the draft flag; None leaves that field as it is."""
        with self.store.locked():
            self._get_pr(number)  # refuse to rewrite a malformed file
            path = self.store.pr_path(number)
            meta, old_body = self.store.read_doc(path, PR_KEYS_HINT)
            new_meta = {**meta, "url": path.as_uri()}
            if draft is not None:
                new_meta["draft"] = bool(draft)
            new_body = old_body if body is None else body
            if (new_meta, new_body) != (meta, old_body):
                self.store.write_doc(path, new_meta, new_body)
        return self._get_pr(number)

    def _get_pr(self, number: int) -> PullRequest:
        path = self.store.require_pr(number)
        meta, body = self.store.read_doc(path, PR_KEYS_HINT)
        front = PullFrontMatter.read(meta, number, self.store.rel(path), PR_KEYS_HINT)
        return PullRequest(number=number, title=front.title, body=body, head=front.head, base=front.base,
                           state=front.state, draft=front.draft, url=path.as_uri())


def _one_line(value: Any, what: str) -> str:
    """A non-empty single line of text (titles and branch names)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"the {what} must be non-empty text", f"pass a {what}")
    if "\n" in value.strip() or "\r" in value.strip():
        raise UsageError(f"the {what} must be a single line: {value!r}", "put details in the body")
    return value.strip()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
