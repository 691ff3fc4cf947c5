"""What makes a triage brief, an LLD and a spec different: template, inputs, checks, wording."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class DocKind:
    name: str
    """Stage name: triage | lld | spec."""
    title: str
    """What the document is called in prompts and messages."""
    required_sections: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    """Earlier documents this one is written from."""
    purpose: str = ""
    extra_checks: tuple[Callable[[str], list[str]], ...] = field(default=())

    def template(self, repo_templates: Path | None = None) -> str:
        """The repository's override in .agentos/templates/<name>.md, else the shipped one."""
        if repo_templates is not None and (repo_templates / f"{self.name}.md").exists():
            return (repo_templates / f"{self.name}.md").read_text(encoding="utf-8")
        return resources.files("agentos.workflows.review_loop").joinpath(
            "templates", f"{self.name}.md"
        ).read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Heading title (lower-case) → the text under it, for level-2 and level-3 headings."""
    found: dict[str, str] = {}
    matches = list(HEADING.finditer(text))
    for i, match in enumerate(matches):
        level = len(match.group(1))
        # A section runs to the next heading of the same or a higher level: it owns its subsections.
        end = next((m.start() for m in matches[i + 1 :] if len(m.group(1)) <= level), len(text))
        found.setdefault(match.group(2).strip().lower(), text[match.end() : end].strip())
    return found


def validate(kind: DocKind, text: str) -> list[str]:
    """Mechanical problems with a draft, each phrased as something to fix."""
    if not text.strip():
        return [f"the {kind.title} is empty"]
    present = sections(text)
    problems = []
    for name in kind.required_sections:
        body = present.get(name.lower())
        if body is None:
            problems.append(f"missing required section '## {name}'")
        elif not body:
            problems.append(f"section '## {name}' is empty")
    for check in kind.extra_checks:
        problems.extend(check(text))
    return problems


def _numbered_criteria(text: str) -> list[str]:
    body = sections(text).get("acceptance criteria", "")
    if body and not re.search(r"^\s*1[.)]\s+\S", body, re.MULTILINE):
        return ["'## Acceptance criteria' must be a numbered list (1. …)"]
    return []


def _kind_line(text: str) -> list[str]:
    body = sections(text).get("kind", "").strip().lower()
    if body and body.split()[0].strip("*`") not in {"bug", "feature", "chore", "docs"}:
        return ["'## Kind' must be one of: bug, feature, chore, docs"]
    return []


TRIAGE = DocKind(
    name="triage",
    title="issue brief",
    required_sections=("Problem", "Scope", "Acceptance criteria", "Open questions", "Kind", "Size"),
    purpose="Turn the issue into a precise brief a designer can work from.",
    extra_checks=(_numbered_criteria, _kind_line),
)
LLD = DocKind(
    name="lld",
    title="low-level design",
    required_sections=(
        "Context and goal", "Files changed", "Data structures", "Interfaces", "Logic flow",
        "Alternatives considered", "Security", "Performance", "Test plan", "Risks",
        "Definition of done",
    ),
    inputs=("triage",),
    purpose="Design the change in enough detail that an implementer makes no design decisions.",
)
SPEC = DocKind(
    name="spec",
    title="implementation spec",
    required_sections=("Overview", "Changes", "Function specifications", "Test mapping", "Dependencies"),
    inputs=("triage", "lld"),
    purpose="Turn the approved design into exact, file-by-file change instructions and tests.",
)
KINDS = {k.name: k for k in (TRIAGE, LLD, SPEC)}
