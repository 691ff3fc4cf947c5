"""What the implementation stage reads from the approved documents: the tests the spec's
"Test mapping" requires, the files the LLD's "Files changed" lists, and the kind of change
the issue brief names (for the commit type)."""

from __future__ import annotations

import re

from agentos.workflows.review_loop.kinds import sections

_SEPARATOR_CELL = re.compile(r":?-{2,}:?")
_TEST_NAME = re.compile(r"(test_\w+|Test[A-Z0-9_]\w*|\w+_test|test\w*)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[\w./\-]+(?:::[\w\-\[\].,]+)*")
COMMIT_TYPES = {"bug": "fix", "feature": "feat", "chore": "chore", "docs": "docs"}


def table_rows(body: str) -> list[list[str]]:
    """Cells of each row of the Markdown tables in `body`, header rows included."""
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(_SEPARATOR_CELL.fullmatch(c) for c in cells if c):
            continue
        rows.append(cells)
    return rows


def _column(rows: list[list[str]], words: tuple[str, ...]) -> list[str]:
    """The cells below the first header naming one of `words` (else the first column)."""
    if not rows:
        return []
    header = [c.lower() for c in rows[0]]
    index = next((i for i, h in enumerate(header) if any(w in h for w in words)), 0)
    return [row[index] for row in rows[1:] if index < len(row)]


def _tokens(cell: str) -> list[str]:
    """The words of a cell, in order; a `quoted` stretch is one word."""
    cell = re.sub(r"<br\s*/?>", " ", cell)
    return [(quoted or bare).strip() for quoted, bare in re.findall(r"`([^`]+)`|([^\s,;`]+)", cell)
            if (quoted or bare).strip()]


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
    """The test ids the spec's "Test mapping" table names, in order, without duplicates."""
    rows = table_rows(sections(spec).get("test mapping", ""))
    found = [t for cell in _column(rows, ("test",)) for t in _tokens(cell) if is_test_id(t)]
    return list(dict.fromkeys(found))


def listed_files(lld: str) -> list[str]:
    """The paths the LLD's "Files changed" table lists."""
    rows = table_rows(sections(lld).get("files changed", ""))
    paths = [t.removeprefix("./") for cell in _column(rows, ("path", "file")) for t in _tokens(cell)]
    return list(dict.fromkeys(p for p in paths if re.fullmatch(r"[\w.\-/]+", p) and not p.startswith("/")))


def commit_type(brief: str | None) -> str:
    """The conventional-commit type for the brief's "## Kind" (bug → fix, …); feat by default."""
    kind = (sections(brief).get("kind", "") if brief else "").strip().lower()
    first = kind.split()[0].strip("*`") if kind else ""
    return COMMIT_TYPES.get(first, "feat")
