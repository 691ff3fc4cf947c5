"""What the implementation stage reads from the approved documents: the tests the spec's
"Test mapping" requires, the files the LLD's "Files changed" lists, and the kind of change
the issue brief names (for the commit type); and the current text of the files the LLD lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from agentos.markdown.parse import column, sections, tables
from agentos.workflows.review_loop.documents import brief_kind, files_changed

_TEST_NAME = re.compile(r"(test_\w+|Test[A-Z0-9_]\w*|\w+_test|test\w*)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[\w./\-]+(?:::[\w\-\[\].,]+)*")
COMMIT_TYPES = {"bug": "fix", "feature": "feat", "chore": "chore", "docs": "docs"}


_PHRASE = re.compile(r"[\w' -]*[A-Za-z][\w' -]*|[\w' .,:›>-]*[A-Za-z][\w' .,:›>-]*")
"""A test named by a phrase (tape, jest, mocha): words, no call or operator syntax."""


def _tokens(cell: str) -> list[tuple[str, bool]]:
    """The words of a cell, in order, each with whether it was `quoted` (one word however long)."""
    cell = re.sub(r"<br\s*/?>", " ", cell)
    return [((quoted or bare).strip(), bool(quoted)) for quoted, bare in re.findall(r"`([^`]+)`|([^\s,;`]+)", cell)
            if (quoted or bare).strip()]


def is_phrase_test(name: str) -> bool:
    """A test a runner names by a phrase with spaces (`keeps every argument after --`)."""
    return " " in name.strip() and len(name) <= 150 and bool(_PHRASE.fullmatch(name.strip()))


def is_test_id(token: str) -> bool:
    """A test a runner could name: `path::Class::test`, `module.Class.test`, `TestX`, `test_x`."""
    if not _IDENTIFIER.fullmatch(token):
        return False
    if "::" in token:
        return True
    last = re.split(r"[./]", token)[-1]
    if re.search(r"\.(py|go|rs|js|ts|jsx|tsx|rb)$", token):
        return False  # a file, not a test
    return bool(_TEST_NAME.fullmatch(last)) and last.lower() != "tests"


def required_tests(spec: str) -> list[str]:
    """The test ids the spec's "Test mapping" tables name, in order, without duplicates: ids a
    runner could print, and `quoted phrases` for the runners that name tests by one (which the
    stage keeps only when the project's runner does, see `named_by_phrase`)."""
    found = []
    for rows in tables(sections(spec).get("test mapping", "")):
        name = column(rows, "test") or next(iter(rows[0] if rows else []), "")
        found += [t for row in rows for t, quoted in _tokens(row.get(name, ""))
                  if is_test_id(t) or (quoted and is_phrase_test(t))]
    return list(dict.fromkeys(found))


def named_by_phrase(tests: list[str], run_names: list[str]) -> list[str]:
    """`tests` without the phrase names when the runner's own names (a run's) have no spaces:
    a pytest or go suite cannot have a test called `keeps the old behaviour`."""
    if any(" " in n for n in run_names):
        return tests
    return [t for t in tests if not is_phrase_test(t)]


def listed_files(lld: str) -> list[str]:
    """The repository paths the LLD's "Files changed" table lists."""
    rows, _ = files_changed(lld)
    return list(dict.fromkeys(row.path for row in rows if row.path and not row.path.startswith("/")))


def named_files(read: Callable[[str], str | None], lld: str, budget_tokens: int) -> list[tuple[str, str | None]]:
    """(path, text or None) for each file the LLD lists, in its order, as `read` gives it: the text
    while the files so far fit in `budget_tokens` (about four characters a token), None for a file
    that does not exist, is not text, or does not fit."""
    room, out = budget_tokens * 4, []
    for path in listed_files(lld):
        text = read(path)
        fits = text is not None and len(text) <= room
        room -= len(text) if fits else 0
        out.append((path, text if fits else None))
    return out


def in_tree(root: Path) -> Callable[[str], str | None]:
    """A reader of files as they are now in the worktree at `root` (text files inside it only)."""
    def read(path: str) -> str | None:
        file = root / path
        try:
            inside = file.is_file() and file.resolve().is_relative_to(root.resolve())
            return file.read_text(encoding="utf-8") if inside else None
        except (OSError, UnicodeDecodeError):
            return None
    return read


def commit_type(brief: str | None) -> str:
    """The conventional-commit type for the brief's "## Kind" (bug → fix, …); feat by default."""
    return COMMIT_TYPES.get(brief_kind(brief) if brief else "", "feat")
