"""What a document's prompts and checks are built from, computed once per loop.

Every prompt opens with the run's shared prefix (prefix.py: the same system prompt, repository,
issue and approved documents for every call of the run), then the role (drafter or reviewer,
with the template), then what changes from call to call, so provider prompt caching applies
across rounds and across stages.
"""

from __future__ import annotations

from functools import cached_property

from agentos.llm.base import Message, Request
from agentos.repo.context import RepoIndex
from agentos.workflows.prefix import SYSTEM, RunPrefix
from agentos.workflows.review_loop.documents import criteria_of
from agentos.workflows.review_loop.kinds import DocKind
from agentos.workflows.review_loop.validators import ValidationContext
from agentos.workflows.services import Services

ROLE_DRAFTER = (
    "You are a senior engineer writing a {title} for a code change. {purpose}\n"
    "Follow the template's headings exactly (## level). Be concrete: name real files, "
    "functions and tests from the repository context.\n\nTemplate:\n{template}"
)
ROLE_REVIEWER = (
    "You are a demanding reviewer of a {title}. {purpose}\n"
    "Judge it against the issue and the earlier documents. Verdict APPROVED only when an "
    "implementer could follow it without guessing; REVISE with specific findings otherwise "
    "(give each finding a stable id, and reuse the id when you raise the same point again); "
    "BLOCKED only when the issue itself cannot be done as stated. Answer as JSON matching "
    "the schema.\n\nTemplate the document must follow:\n{template}"
)


class DocumentContext:
    """The issue, the template, the repository and the earlier documents for one document kind
    (each read once, deterministic), and the requests built from them."""

    def __init__(self, kind: DocKind, services: Services):
        self.kind = kind
        self.s = services
        self.cfg = getattr(services.config.stages, kind.name)

    @cached_property
    def prefix(self) -> RunPrefix:
        return RunPrefix(self.s)

    @property
    def issue(self):
        return self.prefix.issue

    @cached_property
    def template(self) -> str:
        return self.kind.template(self.s.layout.templates_dir, issue_title=self.issue.title,
                                  issue_number=self.issue.number)

    @property
    def index(self) -> RepoIndex:
        return self.prefix.index

    @cached_property
    def inputs(self) -> dict[str, str]:
        """The earlier documents this one is written from (the prefix holds them all)."""
        return {name: text for name, text in self.prefix.documents(self.kind.name).items() if name in self.kind.inputs}

    @cached_property
    def stable(self) -> list[Message]:
        """The run's shared prefix as this stage sends it."""
        return self.prefix.messages(self.kind.name)

    @cached_property
    def checks(self) -> ValidationContext:
        """What the mechanical checks compare a draft with: the base tree, symbols, criteria, the LLD."""
        git = self.s.workspace.git
        base_files = set(git.run("ls-tree", "-r", "--name-only", self.s.workspace.base).splitlines())
        return ValidationContext(base_files=base_files, symbols=self.index.symbol_names(),
                                 criteria=criteria_of(self.inputs.get("triage", "")),
                                 lld=self.inputs.get("lld", ""))

    def request(self, role: str, changing: list[str], purpose: str, turn: int, model: str) -> Request:
        """The shared prefix, `role` (ROLE_DRAFTER or ROLE_REVIEWER) with the template, then `changing`,
        for `model` (which decides the tools it carries, not to be called)."""
        text = role.format(title=self.kind.title, purpose=self.kind.purpose, template=self.template)
        messages = [*self.stable, Message(role="user", content=text)]
        messages += [Message(role="user", content=text) for text in changing]
        shared = len(self.stable)
        return Request(system=SYSTEM, messages=messages, tools=self.prefix.tools(model), use_tools=False,
                       purpose=purpose, turn=turn, cache_after=[shared - 1, shared])
