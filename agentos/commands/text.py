"""Terminal text the read-only commands share: plurals, ages, columns that fit the width."""

from __future__ import annotations

import re
import shutil

from agentos.progress.view import fmt_duration, fmt_tokens

STATUS_WORDS = {"PASS": "passed", "BLOCK": "blocked", "RETRY": "retrying", "pending": "pending",
                "running": "running", "skipped": "skipped", "interrupted": "interrupted", "stopped": "stopped"}


def ago(seconds: float | None) -> str:
    """ "just now", "5s ago", "3m ago", "2h ago", "4d ago"."""
    if seconds is None:
        return ""
    if seconds < 2:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def duration(seconds: float | None) -> str:
    return fmt_duration(seconds) or "-"


def tokens(n_in: int, n_out: int) -> str:
    """Token counts like the live view: 10.8k→1.2k."""
    return f"{fmt_tokens(n_in)}→{fmt_tokens(n_out)}" if n_in or n_out else "-"


def pr_ref(url: str | None) -> str:
    """#N for a pull request URL (GitHub's or the local forge's), else the URL."""
    if not url:
        return ""
    found = re.search(r"(?:pull/|pulls/)(\d+)(?:\.md)?/?$", url)
    return f"#{found.group(1)}" if found else url


def width() -> int:
    """The terminal's width ($COLUMNS first); through a pipe, no limit: nothing is cut."""
    return max(40, shutil.get_terminal_size((10_000, 24)).columns)


def fit(text: str, room: int) -> str:
    """`text` on one line within `room` characters (its spacing kept), cut at a word with an ellipsis."""
    line = " ".join(str(text).splitlines()).rstrip()
    if len(line) <= room:
        return line
    if room <= 1:
        return ""
    cut = line[: room - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[room // 2:] else cut) + "…"


def columns(rows: list[list[str]], indent: str = "", optional: tuple[int, ...] = ()) -> list[str]:
    """Rows (the first is the header) aligned in columns within the terminal's width: the
    `optional` columns (indexes, least needed first) are left out until the rest fits; the last
    column gets what is left, cut at a word (left out too when fewer than 12 characters remain)."""
    if not rows:
        return []
    keep = list(range(len(rows[0])))
    for index in (None, *optional):
        if index is not None:
            keep.remove(index)
        if _room(rows, keep, indent) >= 12:
            break
    room = _room(rows, keep, indent)
    if room < 12:
        keep = keep[:-1]
    widths = {i: max(len(r[i]) for r in rows) for i in keep[:-1]}
    out = []
    for row in rows:
        head = "  ".join(row[i].ljust(widths[i]) for i in keep[:-1])
        tail = fit(row[keep[-1]], room) if room >= 12 else row[keep[-1]]
        out.append((indent + head + "  " + tail).rstrip())
    return out


def _room(rows: list[list[str]], keep: list[int], indent: str) -> int:
    """What the last kept column has left of the width."""
    return width() - len(indent) - sum(max(len(r[i]) for r in rows) + 2 for i in keep[:-1])
