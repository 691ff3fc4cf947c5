"""Deterministic checks on a draft, run before any reviewer is paid to read it.

Each check returns problems phrased as something the drafter can fix. They work on the
Markdown itself: sections by heading, tables by their header row.
"""

from __future__ import annotations

import builtins
import re
import sys
from dataclasses import dataclass, field

from agentos.markdown.parse import code_spans, column, headings, sections, table
from agentos.workflows.review_loop.documents import CHANGES, brief_kind, files_changed, numbered_items

AC_REF = re.compile(r"\bAC\s*-?\s*(\d+)\b", re.IGNORECASE)
SIGNATURE = re.compile(r"`(?:def |function |func )?([A-Za-z_][A-Za-z0-9_]*)\s*\(")


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


# -- checks shared by every kind -------------------------------------------------------------

def check_structure(text: str, required: list[str]) -> list[str]:
    if not text.strip():
        return ["the document is empty"]
    problems = []
    titles = [h.title for h in headings(text, level=2)]
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
    kind = brief_kind(text)
    if kind and kind not in {"bug", "feature", "chore", "docs"}:
        problems.append("'## Kind' must be one of: bug, feature, chore, docs")
    return problems


# -- LLD -------------------------------------------------------------------------------------

def check_lld(text: str, ctx: ValidationContext) -> list[str]:
    rows, unreadable = files_changed(text)
    problems = [unreadable] if unreadable else []
    for path, change in rows:
        if change not in CHANGES:
            problems.append(f"files changed: '{path}' has change '{change}'; use add, modify or delete")
            continue
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

PYTHON_NAMES = set(dir(builtins)) | set(sys.stdlib_module_names)
"""Builtins (`len`, `str`) and standard-library modules are never unknown to a spec."""


def heading_path(title: str) -> str:
    """The path a `### …` heading of the spec's Changes names: its first code span, else the
    title up to words after the path (`` `a.py` (modify) ``, `a.py — new helper`, `a.py: add`)."""
    spans = code_spans(title)
    path = spans[0] if spans else re.split(r"\s+(?:\(|—|–|-\s)|:\s", title.strip())[0]
    return path.strip("` ").removeprefix("./")


def check_spec(text: str, ctx: ValidationContext) -> list[str]:
    problems = _coverage(text, "test mapping", ctx.criteria)
    declared = {p for p, _ in files_changed(ctx.lld)[0]}
    for heading in headings(sections(text).get("changes", ""), level=3):
        path = heading_path(heading.title)
        if declared and path not in declared:
            problems.append(f"'## Changes' edits '{path}', which the LLD's files changed table does not list")
    known = ctx.symbols | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", ctx.lld)) | PYTHON_NAMES
    for name in sorted(set(SIGNATURE.findall(sections(text).get("function specifications", "")))):
        if name not in known:
            problems.append(f"'## Function specifications' names `{name}`, which is neither in the "
                            "repository nor declared in the LLD")
    return problems
