"""The structure of a Markdown document, read the way GitHub renders it.

Fenced code blocks (``` or ~~~, indented up to three spaces, closed by a fence of the same
character at least as long) hide what is inside them: a `# comment` in code is not a heading,
a `| row |` in code is not a table. Sections are found by ATX heading (`## Title`), tables by
their delimiter row; cells split on unescaped pipes, and an escaped pipe is a pipe in the cell.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_DELIMITER_CELL = re.compile(r":?-+:?")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)


class Heading(NamedTuple):
    line: int
    """Index of the heading's line in the document."""
    level: int
    title: str


def lines_of(text: str) -> list[str]:
    """The document's lines, whatever its line endings."""
    return text.replace("\r\n", "\n").split("\n")


def in_code(lines: list[str]) -> list[bool]:
    """For each line, whether it belongs to a fenced code block (its fences included)."""
    mask, fence = [], ""
    for line in lines:
        opener = _FENCE.fullmatch(line)
        if fence:
            mask.append(True)
            if opener and _closes(opener, fence):
                fence = ""
        elif opener and not (opener.group(1)[0] == "`" and "`" in opener.group(2)):
            mask.append(True)
            fence = opener.group(1)
        else:
            mask.append(False)
    return mask


def _closes(match: re.Match[str], fence: str) -> bool:
    """A closing fence: the opener's character, at least as long, nothing after it."""
    run = match.group(1)
    return run[0] == fence[0] and len(run) >= len(fence) and not match.group(2).strip()


def headings(text: str, level: int | None = None) -> list[Heading]:
    """The ATX headings outside code, in order; only those of `level` when given."""
    lines = lines_of(text)
    found = []
    for index, (line, code) in enumerate(zip(lines, in_code(lines))):
        match = None if code else _HEADING.fullmatch(line)
        title = _CLOSING_HASHES.sub("", match.group(2) or "").strip() if match else ""
        if title and (level is None or len(match.group(1)) == level):
            found.append(Heading(index, len(match.group(1)), title))
    return found


def sections(text: str) -> dict[str, str]:
    """Heading title (lower-case) → the text under it, subsections included, for headings of
    level 2 and deeper (level 1 is the document's title). The first of two equal titles wins."""
    lines, heads = lines_of(text), headings(text)
    found: dict[str, str] = {}
    for n, head in enumerate(heads):
        if head.level < 2:
            continue
        end = next((h.line for h in heads[n + 1:] if h.level <= head.level), len(lines))
        found.setdefault(head.title.lower(), "\n".join(lines[head.line + 1:end]).strip())
    return found


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every table outside code, as rows keyed by lower-case header text."""
    lines = lines_of(text)
    found, block = [], []
    for line, code in [*zip(lines, in_code(lines)), ("", False)]:
        if not code and line.strip().startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2 and _is_delimiter(block[1]):
            header = [c.lower() for c in cells(block[0])]
            found.append([dict(zip(header, cells(row))) for row in block[2:]])
        block = []
    return found


def table(text: str) -> list[dict[str, str]] | None:
    """The first table in `text` (see `tables`), or None when there is none."""
    return next(iter(tables(text)), None)


def _is_delimiter(line: str) -> bool:
    return all(_DELIMITER_CELL.fullmatch(c) for c in cells(line))


def cells(row: str) -> list[str]:
    """A table row's cells: split on unescaped pipes, trimmed, `\\|` read as a pipe."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [part.strip().replace("\\|", "|") for part in _UNESCAPED_PIPE.split(inner)]


def column(rows: list[dict[str, str]], *names: str) -> str | None:
    """The header of the first column whose name contains one of `names`."""
    for key in rows[0] if rows else []:
        if any(n in key for n in names):
            return key
    return None


def code_spans(text: str) -> list[str]:
    """The contents of the inline code spans in `text`, in order."""
    return [_strip_span(body) for _, body in _CODE_SPAN.findall(text)]


def _strip_span(body: str) -> str:
    """A code span's content: one leading and trailing space go when both are there."""
    return body[1:-1] if len(body) > 2 and body[0] == body[-1] == " " and body.strip() else body


def unquoted(cell: str) -> str:
    """A cell's text without the backticks that wrap all of it (`` `modify` `` → modify)."""
    spans = code_spans(cell)
    return spans[0].strip() if len(spans) == 1 and _CODE_SPAN.fullmatch(cell.strip()) else cell.strip()


DOCUMENT_FENCE_INFO = {"", "markdown", "md", "gfm"}


def unwrap_document(text: str) -> str:
    """A whole document a model wrapped in one Markdown code fence (often after a line of prose)
    → the document; any other text unchanged. Wrapped means: the fence's info string says
    Markdown (or nothing), it holds a heading, and nothing outside it is a heading. The last
    matching closing fence ends it, so same-length fences inside (a model's slip) stay inside."""
    lines = lines_of(text)
    opening = next((i for i, line in enumerate(lines) if (m := _FENCE.fullmatch(line))
                    and m.group(2).strip().lower() in DOCUMENT_FENCE_INFO), None)
    if opening is None:
        return text
    fence = _FENCE.fullmatch(lines[opening]).group(1)
    closing = next((i for i in range(len(lines) - 1, opening, -1)
                    if (m := _FENCE.fullmatch(lines[i])) and _closes(m, fence)), None)
    if closing is None:
        return text
    inside, outside = lines[opening + 1:closing], lines[:opening] + lines[closing + 1:]
    if not headings("\n".join(inside)) or headings("\n".join(outside)):
        return text
    return "\n".join(inside).strip("\n") + "\n"
