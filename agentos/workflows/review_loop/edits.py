"""Revisions as search/replace edits against the current draft, not whole new documents."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentos.markdown.parse import headings


class Edit(BaseModel):
    search: str
    """Exact text of the current draft to replace; must occur exactly once."""
    replace: str


class Revision(BaseModel):
    """The drafter's answer to findings: edits, and which findings they address."""

    edits: list[Edit] = Field(default_factory=list)
    addressed: list[str] = Field(default_factory=list)
    """Ids of the findings these edits address."""
    note: str = ""


def apply_edits(draft: str, edits: list[Edit], required: list[str]) -> tuple[str, list[str]]:
    """(new draft, problems). Nothing is applied unless every edit applies cleanly."""
    if not edits:
        return draft, ["the revision contains no edits"]
    text, problems = draft, []
    for i, edit in enumerate(edits, 1):
        count = text.count(edit.search) if edit.search else 0
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times; include more surrounding text"
            problems.append(f"edit {i}: its search text {where} in the current draft")
            continue
        text = text.replace(edit.search, edit.replace, 1)
    if problems:
        return draft, problems
    before, after = _titles(draft), _titles(text)
    lost = [r for r in required if r.lower() in before and r.lower() not in after]
    if lost:
        return draft, [f"the edits remove the required section '## {name}'" for name in lost]
    return text, []


def _titles(text: str) -> set[str]:
    """The document's section titles (level 2), lower-case."""
    return {h.title.lower() for h in headings(text, level=2)}
