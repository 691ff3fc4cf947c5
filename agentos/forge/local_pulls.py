"""The local forge's pull requests: one file each, found by head branch, created once per
open head, updated in place. Writers hold the store's lock."""

from __future__ import annotations

from agentos.errors import UsageError
from agentos.forge.base import PullRequest
from agentos.forge.local_records import PR_KEYS_HINT, PullFrontMatter, one_line, timestamp
from agentos.forge.local_store import LocalStore


class LocalPulls:
    """Pull request files, numbered in one sequence with issues."""

    def __init__(self, store: LocalStore):
        self.store = store

    def all(self) -> list[PullRequest]:
        """Every pull request in number order."""
        return [self.get(n) for n in self.store.pr_numbers()]

    def get(self, number: int) -> PullRequest:
        """The pull request; a UsageError saying what exists when there is none."""
        path = self.store.require_pr(number)
        meta, body = self.store.read_doc(path, PR_KEYS_HINT)
        front = PullFrontMatter.read(meta, number, self.store.rel(path), PR_KEYS_HINT)
        return PullRequest(number=number, title=front.title, body=body, head=front.head, base=front.base,
                           state=front.state, draft=front.draft, url=path.as_uri())

    def find(self, head: str) -> PullRequest | None:
        """The open pull request from branch `head` (newest if several), or None."""
        found = [pr for pr in self.all() if pr.head == head and pr.state == "open"]
        return found[-1] if found else None

    def find_or_create(self, *, head: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest:
        """Idempotent by head branch: an open PR for `head` is returned unchanged."""
        head, base = one_line(head, "head branch"), one_line(base, "base branch")
        if head == base:
            raise UsageError(f"a pull request needs different head and base branches (both {head!r})",
                             "commit the work on its own branch and open the PR from there")
        meta = {"number": 0, "title": one_line(title, "pull request title"), "head": head, "base": base,
                "state": "open", "draft": bool(draft), "created_at": timestamp(), "url": ""}
        with self.store.locked():
            existing = self.find(head)
            if existing is not None:
                return existing
            number = meta["number"] = self.store.next_number()
            path = self.store.pr_path(number)
            meta["url"] = path.as_uri()
            self.store.write_doc(path, meta, body)
        return self.get(number)

    def update(self, number: int, *, body: str | None = None, draft: bool | None = None) -> PullRequest:
        """Replace the body and/or the draft flag; None leaves that field as it is."""
        with self.store.locked():
            self.get(number)  # refuse to rewrite a malformed file
            path = self.store.pr_path(number)
            meta, old_body = self.store.read_doc(path, PR_KEYS_HINT)
            new_meta = {**meta, "url": path.as_uri()}
            if draft is not None:
                new_meta["draft"] = bool(draft)
            new_body = old_body if body is None else body
            if (new_meta, new_body) != (meta, old_body):
                self.store.write_doc(path, new_meta, new_body)
        return self.get(number)
