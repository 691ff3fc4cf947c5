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
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def fit(text: str, room: int) -> str:
    """`text` on one line within `room` characters (its spacing kept), cut at a word with an ellipsis."""
    line = " ".join(str(text).splitlines()).rstrip()
    if len(line) <= room:
        return line
    if room <= 1:
        return ""
    cut = line[: room - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[room // 2:] else cut) + "…"


def columns(rows: list[list[str]], last_wraps: bool = True, indent: str = "") -> list[str]:
    """Rows aligned in columns; the last column gets what is left of the width (cut to fit)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    room = width() - len(indent) - sum(w + 2 for w in widths)
    out = []
    for row in rows:
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        tail = fit(row[-1], room) if last_wraps and room > 8 else row[-1]
        out.append((indent + head + "  " + tail).rstrip())
    return out
