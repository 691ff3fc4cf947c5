"""The facts later steps read from the documents the review loop writes: the brief's acceptance
criteria and kind, the LLD's files-changed table, and the review log at a document's end. The
checks, the orchestrator and the implementation stage all read them here, so a document means
the same thing to each."""

from __future__ import annotations

import re
from typing import NamedTuple

from agentos.markdown.parse import code_spans, column, headings, lines_of, sections, table, unquoted

CHANGES = ("add", "modify", "delete")
_APPROVED = re.compile(r"Status:\s*APPROVED\b")
_BREAK = re.compile(r"<br\s*/?>")
_PIECE = re.compile(r"(?:`+[^`]*`+|[^,;`])+")  # split at commas and semicolons outside code spans


class FileChange(NamedTuple):
    path: str
    change: str
    """As written, lower-case: add, modify or delete when the LLD is valid."""


def numbered_items(body: str) -> list[str]:
    return re.findall(r"^\s*\d+[.)]\s+(\S.*)$", body, re.MULTILINE)


def criteria_of(brief: str) -> list[str]:
    """AC1, AC2, … for the numbered items under the brief's '## Acceptance criteria'."""
    return [f"AC{i}" for i in range(1, len(numbered_items(sections(brief).get("acceptance criteria", ""))) + 1)]


def brief_kind(brief: str) -> str:
    """The first word under the brief's '## Kind', lower-case ('' when there is none)."""
    words = sections(brief).get("kind", "").strip().lower().split()
    return words[0].strip("*`") if words else ""


def files_changed(lld: str) -> tuple[list[FileChange], str | None]:
    """The rows of the LLD's '## Files changed' table, one per path, and what keeps the table
    from being read (None when it reads). No section at all is no rows and no problem."""
    body = sections(lld).get("files changed")
    if body is None:
        return [], None
    rows = table(body)
    if not rows:
        return [], "'## Files changed' needs a table: | Path | Change | Why |"
    path_col, change_col = column(rows, "path", "file"), column(rows, "change", "action")
    if not path_col or not change_col:
        return [], "the '## Files changed' table needs Path and Change columns"
    return [FileChange(path, unquoted(row.get(change_col, "")).lower())
            for row in rows for path in paths(row.get(path_col, "")) or [""]], None


def paths(cell: str) -> list[str]:
    """The paths in a table cell, separated by commas, semicolons or <br>. A piece with a code
    span is the span (`my file.py` (new) → my file.py); a leading ./ is dropped."""
    pieces = [(code_spans(piece) or [piece])[0].strip() for piece in _PIECE.findall(_BREAK.sub(",", cell))]
    return [p.removeprefix("./") for p in pieces if p]


def is_approved(doc: str) -> bool:
    """Whether the document ends in the review log the review loop writes, with the status
    APPROVED; the same words anywhere else in the document (or in code) do not count."""
    start = _review_log_line(doc)
    return start is not None and any(_APPROVED.match(line) for line in lines_of(doc)[start + 1:])


def without_review_log(doc: str) -> str:
    """The document without the review log at its end (for a revision of it)."""
    start = _review_log_line(doc)
    lines = lines_of(doc) if start is None else lines_of(doc)[:start]
    return "\n".join(lines).rstrip() + "\n"


def _review_log_line(doc: str) -> int | None:
    """The line of the '## Review log' heading when that is the document's last section."""
    last = (headings(doc, level=2) or [None])[-1]
    return last.line if last is not None and last.title.lower() == "review log" else None
