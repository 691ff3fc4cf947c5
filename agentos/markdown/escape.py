"""Untrusted text inside the Markdown we post (PR bodies, the progress comment).

Text that came from an issue, a model or a reviewer is shown, never taken as our structure:

- `inline(text)`: one line, with Markdown and HTML control characters escaped.
- `quote(text)`: many lines inside a block quote, so an unclosed code fence or HTML block in
  it ends where the quote ends instead of swallowing the rest of the body.
- Both put closing keywords (`Fixes #12` would close that issue when the PR merges) and
  @mentions (they would notify people) inside code spans, where GitHub does not act on them.
- `code(text)`: a code span that holds any text, whatever backticks it contains; `cell(text)`
  the same inside a table cell (pipes escaped).
- `fenced(text)`: a fenced code block that no line of `text` can close early.
"""

from __future__ import annotations

import re

from agentos.markdown.parse import in_code, lines_of

_KEYWORD = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_INERT = re.compile(
    rf"\b{_KEYWORD}\b:?\s+(?:[\w.-]+/[\w.-]+#\d+|#\d+|GH-\d+|https?://\S+/(?:issues|pull)/\d+)"
    r"|(?<![\w`/@.])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?",
    re.IGNORECASE)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def code(text: str) -> str:
    """`text` as an inline code span (on one line), fenced with more backticks than it holds."""
    text = " ".join(str(text).split())
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """`text` as a code span in a table cell: a pipe in it would otherwise end the cell."""
    return code(text).replace("|", "\\|")


def fenced(text: str, info: str = "") -> str:
    """`text` in a fenced code block whose fence is longer than any backtick run in it."""
    run = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (run + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def inline(text: str, limit: int = 300) -> str:
    """One line of untrusted text, safe anywhere inline (list items, table cells, headings)."""
    flat = " ".join(str(text or "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return _neutralise(flat, lambda part: _SPECIAL.sub(r"\\\1", part))


def quote(text: str, limit: int = 6000) -> str:
    """Untrusted Markdown kept readable but contained in a block quote; ends with no newline."""
    body = str(text or "").replace("\r\n", "\n").strip("\n")
    if len(body) > limit:
        body = body[: limit - 1].rstrip() + "…"
    lines = lines_of(body)
    # GitHub does not act on references inside code blocks, so those lines stay as they are
    shown = [line if fenced else _neutralise(line, lambda part: part) for line, fenced in zip(lines, in_code(lines))]
    return "\n".join(f"> {line}" if line.strip() else ">" for line in shown)


def _neutralise(text: str, escape) -> str:
    """Closing keywords and mentions as code spans; `escape` applied to everything else."""
    out, last = [], 0
    for match in _INERT.finditer(text):
        out += [escape(text[last:match.start()]), code(match.group(0))]
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)
