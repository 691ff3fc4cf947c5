"""Deterministic checks on a draft, run before any reviewer is paid to read it.

Each check returns problems phrased as something the drafter can fix. They work on the
Markdown itself: sections by heading, tables by their header row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
AC_REF = re.compile(r"\bAC\s*-?\s*(\d+)\b", re.IGNORECASE)
SIGNATURE = re.compile(r"`(?:def |function |func )?([A-Za-z_][A-Za-z0-9_]*)\s*\(")
CHANGES = ("add", "modify", "delete")


@dataclass
class ValidationContext:
    """What the checks compare a draft against."""

    base_files: set[str] = field(default_factory=set)
    """Every path in the repository at the base commit."""
    symbols: set[str] = field(default_factory=set)
    """Names of functions, classes, methods and types defined in the repository."""
    criteria: list[str] = field(default_factory=list)
    """Acceptance criterion ids (AC1, AC2, …) from the approved issue brief."""
    lld: str = ""
    """The approved LLD, for the spec's checks."""


def sections(text: str) -> dict[str, str]:
    """Heading title (lower-case) → text under it, including its subsections."""
    found: dict[str, str] = {}
    matches = [m for m in HEADING.finditer(_without_code(text)) if len(m.group(1)) >= 2]
    for i, match in enumerate(matches):
        level = len(match.group(1))
        end = next((m.start() for m in matches[i + 1 :] if len(m.group(1)) <= level), len(text))
        found.setdefault(match.group(2).strip().lower(), text[match.end() : end].strip())
    return found


def headings(text: str, level: int = 2) -> list[str]:
    return [m.group(2).strip() for m in HEADING.finditer(_without_code(text)) if len(m.group(1)) == level]


def _without_code(text: str) -> str:
    """The text with fenced code blanked out (same length), so `# comments` are not headings."""
    return re.sub(r"```.*?(```|\Z)", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.DOTALL)


def table(body: str) -> list[dict[str, str]] | None:
    """The first Markdown table in a section as rows keyed by lower-case header; None if none."""
    lines = [ln.strip() for ln in body.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2 or not re.fullmatch(r"\|?[\s:\-|]+\|?", lines[1]):
        return None
    header = [c.lower() for c in _cells(lines[0])]
    return [dict(zip(header, _cells(line))) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [p.strip().strip("`").strip() for p in parts]


def column(rows: list[dict[str, str]], *names: str) -> str | None:
    """The header of the first column whose name contains one of `names`."""
    for key in rows[0] if rows else []:
        if any(n in key for n in names):
            return key
    return None


# -- checks shared by every kind -------------------------------------------------------------

def check_structure(text: str, required: list[str]) -> list[str]:
    if not text.strip():
        return ["the document is empty"]
    problems = []
    titles = headings(text)
    counts = {t.lower(): sum(1 for x in titles if x.lower() == t.lower()) for t in titles}
    first = {t.lower(): t for t in reversed(titles)}
    problems += [f"heading '## {first[t]}' appears {n} times; merge them into one section"
                 for t, n in counts.items() if n > 1]
    present = sections(text)
    for name in required:
        body = present.get(name.lower())
        if body is None:
            problems.append(f"missing required section '## {name}'")
        elif not body:
            problems.append(f"section '## {name}' is empty")
    return problems


# -- triage ----------------------------------------------------------------------------------

def check_brief(text: str, ctx: ValidationContext) -> list[str]:
    found = sections(text)
    problems = []
    criteria = found.get("acceptance criteria")
    if criteria is not None and not numbered_items(criteria):
        problems.append("'## Acceptance criteria' must be a numbered list (1. …)")
    kind = found.get("kind", "").strip().lower()
    if kind and kind.split()[0].strip("*`") not in {"bug", "feature", "chore", "docs"}:
        problems.append("'## Kind' must be one of: bug, feature, chore, docs")
    return problems


def numbered_items(body: str) -> list[str]:
    return re.findall(r"^\s*\d+[.)]\s+(\S.*)$", body, re.MULTILINE)


def criteria_of(brief: str) -> list[str]:
    return [f"AC{i}" for i in range(1, len(numbered_items(sections(brief).get("acceptance criteria", ""))) + 1)]


# -- LLD -------------------------------------------------------------------------------------

def files_changed(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, change) rows of the '## Files changed' table, and problems with it."""
    body = sections(text).get("files changed")
    if body is None:
        return [], []
    rows = table(body)
    if not rows:
        return [], ["'## Files changed' needs a table: | Path | Change | Why |"]
    path_col, change_col = column(rows, "path", "file"), column(rows, "change", "action")
    if not path_col or not change_col:
        return [], ["the '## Files changed' table needs Path and Change columns"]
    out, problems = [], []
    for row in rows:
        path, change = row.get(path_col, ""), row.get(change_col, "").lower()
        if change not in CHANGES:
            problems.append(f"files changed: '{path}' has change '{change}'; use add, modify or delete")
        else:
            out.append((path, change))
    return out, problems


def check_lld(text: str, ctx: ValidationContext) -> list[str]:
    rows, problems = files_changed(text)
    for path, change in rows:
        exists = path in ctx.base_files
        if change in ("modify", "delete") and not exists:
            problems.append(f"files changed: '{path}' is marked {change} but does not exist at the base commit")
        if change == "add" and exists:
            problems.append(f"files changed: '{path}' is marked add but already exists; use modify")
    return problems + _coverage(text, "test plan", ctx.criteria)


def _coverage(text: str, section: str, criteria: list[str]) -> list[str]:
    body = sections(text).get(section)
    if body is None or not criteria:
        return []
    rows = table(body)
    if not rows:
        return [f"'## {section.capitalize()}' needs a table with a column naming the acceptance criterion each test covers"]
    col = column(rows, "criteri", "ac", "covers")
    if col is None:
        return [f"the '## {section.capitalize()}' table needs a Criterion column (AC1, AC2, …)"]
    covered = {f"AC{n}" for row in rows for n in AC_REF.findall(row.get(col, ""))}
    missing = [c for c in criteria if c not in covered]
    return [f"'## {section.capitalize()}' covers no test for {', '.join(missing)}"] if missing else []


# -- spec ------------------------------------------------------------------------------------

def check_spec(text: str, ctx: ValidationContext) -> list[str]:
    problems = _coverage(text, "test mapping", ctx.criteria)
    declared = {p for p, _ in files_changed(ctx.lld)[0]}
    for title in headings(sections(text).get("changes", ""), level=3):
        path = title.strip("` ")
        if declared and path not in declared:
            problems.append(f"'## Changes' edits '{path}', which the LLD's files changed table does not list")
    known = ctx.symbols | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", ctx.lld))
    for name in sorted(set(SIGNATURE.findall(sections(text).get("function specifications", "")))):
        if name not in known:
            problems.append(f"'## Function specifications' names `{name}`, which is neither in the "
                            "repository nor declared in the LLD")
    return problems
