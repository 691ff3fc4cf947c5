"""`search_text` for the implementer: a linear-time regular expression over the worktree, bounded.

The pattern is compiled by RE2 (google-re2), whose matching time grows linearly with the text,
so a pattern such as `(x+x+)+y` cannot spin. RE2 leaves out what needs backtracking
(backreferences, lookaround, possessive quantifiers); such a pattern is refused with a message
that says so, for the model to rewrite. A search also stops at a number of hits, at a number of
bytes read and at a deadline, and says which bound ended it, so its answer is bounded too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2

MAX_PATTERN_CHARS = 1000
MAX_HITS = 200
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 2_000_000
"""Bigger files (data, bundles, minified code) are skipped: no source line a model needs is in them."""
MAX_SCANNED_BYTES = 64_000_000
SEARCH_SECONDS = 20.0
REGEX_MEMORY = 8 << 20
"""RE2's memory budget for one compiled pattern: a pattern whose automaton needs more is refused."""


class PatternRefused(ValueError):
    """A pattern RE2 cannot run; the message tells the model what to change."""


@dataclass(frozen=True)
class Bounds:
    hits: int = MAX_HITS
    scanned_bytes: int = MAX_SCANNED_BYTES
    seconds: float = SEARCH_SECONDS


def compile_pattern(pattern: str) -> Any:
    """The RE2 form of the model's pattern, or PatternRefused naming what RE2 does not support."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternRefused(f"the pattern is {len(pattern):,} characters; at most {MAX_PATTERN_CHARS:,} are allowed")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternRefused(
            f"pattern not supported: {detail}. search_text uses RE2 syntax (linear time): no backreferences, "
            "lookahead/lookbehind or possessive quantifiers; search for a simpler pattern and read the file"
        ) from None


def search(pattern: str, files: Iterable[tuple[str, Path]], bounds: Bounds = Bounds()) -> str:
    """`path:line: text` for each line of `files` that matches, within `bounds`; why it stopped, if it did."""
    rx = compile_pattern(pattern)
    deadline = time.monotonic() + bounds.seconds
    hits: list[str] = []
    scanned = 0
    stopped = ""
    for rel, file in files:
        if time.monotonic() > deadline:
            stopped = f"the search stopped after {bounds.seconds:g}s"
            break
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        scanned += len(data)
        if scanned > bounds.scanned_bytes:
            stopped = f"the search stopped after reading {bounds.scanned_bytes:,} bytes"
            break
        hits += _matches(rx, rel, data)
        if len(hits) > bounds.hits:
            stopped = f"more than {bounds.hits} matches; narrow the pattern"
            break
    lines = hits[:bounds.hits] or ["no matches"]
    return "\n".join(lines + ([f"({stopped})"] if stopped else []))


def _matches(rx: Any, rel: str, data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return [f"{rel}:{i}: {_cut(line.strip())}" for i, line in enumerate(text.splitlines(), 1) if rx.search(line)]


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"
