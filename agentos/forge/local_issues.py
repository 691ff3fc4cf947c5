"""The local forge's issues: issue files (created, read, relabelled) and each issue's comments
file (read and validated, appended to, edited by marker). Writers hold the store's lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentos.errors import UsageError
from agentos.files import write_atomic
from agentos.forge.base import Comment, Issue, marked_body
from agentos.forge.local_records import (COMMENTS_HINT, ISSUE_KEYS_HINT, CommentEntry, IssueFrontMatter, kind,
                                         label_list, merge_labels, one_line, timestamp)
from agentos.forge.local_store import LocalStore, dump_yaml, load_yaml, normalise_newlines, read_text


class LocalIssues:
    """Issue files, numbered in one sequence with pull requests, read with their comments."""

    def __init__(self, store: LocalStore, comments: LocalComments):
        self.store, self.comments = store, comments

    def create(self, title: str, body: str, labels: list[str] | None = None) -> Issue:
        """Write a new open issue numbered max(issues, pulls) + 1 and return it."""
        meta = {"number": 0, "title": one_line(title, "issue title"), "state": "open",
                "labels": merge_labels([], labels or []), "created_at": timestamp()}
        with self.store.locked():
            number = meta["number"] = self.store.next_number()
            self.store.write_doc(self.store.issue_path(number), meta, body)
        return self.get(number)

    def get(self, number: int) -> Issue:
        """The issue with its comments; raises UnknownIssueError when there is none."""
        path = self.store.require_issue(number)
        meta, body = self.store.read_doc(path, ISSUE_KEYS_HINT)
        front = IssueFrontMatter.read(meta, number, self.store.rel(path), ISSUE_KEYS_HINT)
        return Issue(number=number, title=front.title, body=body, labels=merge_labels([], front.labels),
                     state=front.state, comments=self.comments.of(number), url=path.as_uri())

    def all(self) -> list[Issue]:
        """Every issue, with comments, in number order."""
        return [self.get(n) for n in self.store.issue_numbers()]

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
            current = self.get(issue).labels
            new = change(current)
            if new != current:
                self.store.write_doc(path, {**meta, "labels": new}, body)


class LocalComments:
    """Each issue's comments file: a YAML list of entries with unique, increasing ids."""

    def __init__(self, store: LocalStore):
        self.store = store

    def of(self, issue: int) -> list[Comment]:
        """The issue's comments in file order; none when it has no comments file."""
        return [self._entry(issue, item) for item in self._read(issue)]

    def add(self, issue: int, body: str, author: str) -> Comment:
        """Append a comment with the next id."""
        with self.store.locked():
            self.store.require_issue(issue)
            return self._append(issue, self._read(issue), body, author)

    def upsert(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it (author `agentos`).

        If `body` lacks the marker it is prepended on its own line, so the next call
        still finds this comment: one comment per marker, ever.
        """
        body = marked_body(marker, normalise_newlines(body))
        with self.store.locked():
            self.store.require_issue(issue)
            raw = self._read(issue)
            for item in raw:
                if marker in str(item.get("body") or ""):
                    if item.get("body") != body:
                        item["body"] = body
                        self._write(issue, raw)
                    return self._entry(issue, item)
            return self._append(issue, raw, body, "agentos")

    def _append(self, issue: int, raw: list[dict[str, Any]], body: str, author: str) -> Comment:
        """Add a comment with id = max + 1 to `raw` and write the file (caller holds the lock)."""
        item = {"id": max((int(c["id"]) for c in raw), default=0) + 1, "author": author,
                "body": normalise_newlines(body), "created_at": timestamp()}
        self._write(issue, [*raw, item])
        return self._entry(issue, item)

    def _read(self, issue: int) -> list[dict[str, Any]]:
        """The comments file as plain mappings (unknown keys kept), validated; [] when there is none."""
        path = self.store.comments_path(issue)
        if not path.is_file():
            return []
        where = self.store.rel(path)
        data = load_yaml(read_text(path, where), where, COMMENTS_HINT)
        if data is None:
            return []
        if not isinstance(data, list):
            raise UsageError(f"{where}: expected a YAML list of comments, found {kind(data)}", COMMENTS_HINT)
        ids = [CommentEntry.read(item, where).id for item in data]
        if len(ids) != len(set(ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise UsageError(f"{where}: comment ids must be unique; repeated: {dupes}", COMMENTS_HINT)
        return data

    def _write(self, issue: int, raw: list[dict[str, Any]]) -> None:
        write_atomic(self.store.comments_path(issue), dump_yaml(raw))

    def _entry(self, issue: int, item: dict[str, Any]) -> Comment:
        return CommentEntry.read(item, self.store.rel(self.store.comments_path(issue)))
