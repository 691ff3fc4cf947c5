"""Turning what runs leave behind into HTML that cannot run anything.

Every template is autoescaped; the only HTML that is not escaped by Jinja comes from here, and
here untrusted text is escaped or sanitised first: Markdown is rendered with raw HTML off (a
`<script>` in an LLD shows as text) and only safe link schemes kept, diff lines go through
Pygments (which escapes), and every text is passed through `redact` so no secret reaches a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from agentos.progress.view import fmt_duration, fmt_tokens, parse_ts
from agentos.redact import redact

MAX_DIFF_LINES = 20_000
"""A diff longer than this is shown plain past this line (highlighting it would stall the page)."""
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/(?!/)|\./|\.\./|[\w.-]+(/|$))", re.IGNORECASE)


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))
    return md


def markdown(text: str) -> Markup:
    """A document as HTML: raw HTML in it is shown as text, links only to web pages or in-page anchors."""
    return Markup(_markdown().render(redact(text or "")))


@dataclass
class DiffFile:
    """One file's part of a unified diff, each line highlighted for the file's language."""

    path: str
    added: int = 0
    removed: int = 0
    lines: list[tuple[str, Markup]] = field(default_factory=list)
    """(kind, html): kind is add | del | hunk | meta | ctx."""


def diff_files(diff: str) -> list[DiffFile]:
    """A unified diff (git's, or difflib's) split per file, every line escaped and highlighted."""
    files: list[DiffFile] = []
    lines = redact(diff or "").rstrip("\n").split("\n") if (diff or "").strip() else []
    for seen, line in enumerate(lines, 1):
        if line.startswith("diff --git ") or not files:
            files.append(DiffFile(_path_of(line)))
        current, kind = files[-1], _kind(line)
        if kind == "meta" and line.startswith("+++ ") and not line.endswith("/dev/null"):
            current.path = line[4:].removeprefix("b/")
        current.added += kind == "add"
        current.removed += kind == "del"
        body = _highlight(current.path, line[1:]) if kind in ("add", "del", "ctx") and seen <= MAX_DIFF_LINES else None
        current.lines.append((kind, Markup(escape(line[:1])) + body if body is not None else Markup(escape(line))))
    return files


def _path_of(header: str) -> str:
    parts = header.split(" b/", 1)
    return parts[1] if len(parts) == 2 else "(diff)"


def _kind(line: str) -> str:
    if line.startswith(("+++ ", "--- ", "diff --git", "index ", "new file", "deleted file", "similarity",
                        "rename ", "old mode", "new mode", "Binary files")):
        return "meta"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "ctx")


def _highlight(path: str, code: str) -> Markup:
    """One line of code as escaped HTML with the language's colours (line by line: a diff has gaps)."""
    from pygments import highlight

    return Markup(highlight(code, _lexer(Path(path).name), _formatter()).rstrip("\n"))


@lru_cache(maxsize=64)
def _lexer(name: str):
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


@lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True, classprefix="pg-")


@lru_cache(maxsize=1)
def highlight_css() -> str:
    """The colours of highlighted code, for the style sheet."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(classprefix="pg-", style="default").get_style_defs(".code")


def age(ts: str | None, now: datetime | None = None) -> str:
    """How long ago: "4m12s ago", or "" when unknown."""
    at = parse_ts(ts)
    if at is None:
        return ""
    seconds = ((now or datetime.now(timezone.utc)) - at).total_seconds()
    return f"{fmt_duration(max(0.0, seconds))} ago"


@pass_context
def finalize(context: Context, value: object) -> object:
    """Every value a template prints: secrets masked before Jinja escapes it (Markup from here is
    already). The page's redactor is looked up once per page (`redactor` in its context)."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    return _redactor(context)(value)


def _redactor(context: Context):
    """The page's redactor (looked up once per page: finding the secrets reads the environment)."""
    found = context.get("redactor")
    return redact if found is None else found  # a redactor with no secrets is falsy, and still the one


@pass_context
def pr_link(context: Context, url: str | None) -> Markup:
    """A pull request's address: a link when a browser can follow it (http, https), else text."""
    url = _redactor(context)(url or "")
    if re.match(r"https?://", url, re.IGNORECASE):
        return Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url)
    return Markup(escape(url))


def exit_name(code: int | None) -> str:
    """An exit code with what it means: "exit 3: paused"."""
    from agentos.errors import ExitCode

    try:
        return f"exit {code}: {ExitCode(code).name.lower()}"
    except ValueError:
        return f"exit {code}"


def cost(usd: float | None) -> str:
    return "" if usd is None else f"${usd:.4f}"


FILTERS = {"tokens": lambda n: fmt_tokens(int(n or 0)), "cost": cost, "age": age, "duration": fmt_duration,
           "markdown": markdown}
