"""What makes a triage brief, an LLD and a spec different: template, inputs, checks, wording."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from jinja2.sandbox import SandboxedEnvironment

from agentos.errors import ConfigError
from agentos.markdown.parse import headings
from agentos.workflows.review_loop.validators import (
    ValidationContext,
    check_brief,
    check_lld,
    check_spec,
    check_structure,
)

__all__ = ["DocKind", "KINDS", "LLD", "SPEC", "TRIAGE", "required_sections", "validate"]

Check = Callable[[str, ValidationContext], list[str]]


@dataclass(frozen=True)
class DocKind:
    name: str
    """Stage name: triage | lld | spec."""
    title: str
    """What the document is called in prompts and messages."""
    purpose: str
    inputs: tuple[str, ...] = ()
    """Earlier documents this one is written from."""
    check: Check | None = None

    def template(self, repo_templates: Path | None = None, **values: object) -> str:
        """The rendered template: the repository's .agentos/templates/<name>.md(.j2), else ours."""
        source = self._template_source(repo_templates)
        try:
            return SandboxedEnvironment(keep_trailing_newline=True).from_string(source).render(**values)
        except Exception as exc:  # a template error is the user's to fix, with the file named
            raise ConfigError(f"template for {self.name} cannot be rendered: {exc}",
                              f"fix {repo_templates}/{self.name}.md.j2 or remove it to use the default") from None

    def _template_source(self, repo_templates: Path | None) -> str:
        for suffix in (".md.j2", ".md"):
            if repo_templates is not None and (repo_templates / f"{self.name}{suffix}").exists():
                return (repo_templates / f"{self.name}{suffix}").read_text(encoding="utf-8")
        shipped = resources.files("agentos.workflows.review_loop").joinpath("templates", f"{self.name}.md.j2")
        return shipped.read_text(encoding="utf-8")


def required_sections(template: str) -> list[str]:
    """A document must have every level-2 heading its template has."""
    return [h.title for h in headings(template, level=2)]


def validate(kind: DocKind, text: str, template: str, ctx: ValidationContext) -> list[str]:
    """Mechanical problems with a draft, each phrased as something to fix."""
    problems = check_structure(text, required_sections(template))
    if kind.check is not None and text.strip():
        problems += kind.check(text, ctx)
    return problems


TRIAGE = DocKind(
    name="triage",
    title="issue brief",
    purpose="Turn the issue into a precise brief a designer can work from.",
    check=check_brief,
)
LLD = DocKind(
    name="lld",
    title="low-level design",
    purpose="Design the change in enough detail that an implementer makes no design decisions.",
    inputs=("triage",),
    check=check_lld,
)
SPEC = DocKind(
    name="spec",
    title="implementation spec",
    purpose=("Turn the approved design into exact, file-by-file change instructions and tests. "
             "The tests are run before any code change: every new test the test mapping names must fail "
             "on the current code, and a criterion about behaviour that must stay the same maps to an "
             "existing test that passes today."),
    inputs=("triage", "lld"),
    check=check_spec,
)
KINDS = {k.name: k for k in (TRIAGE, LLD, SPEC)}
