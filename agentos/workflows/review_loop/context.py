"""What a document's prompts and checks are built from, computed once per loop.

Prompts put the stable parts first (instructions and template in the system prompt, then the
repository context, the issue and earlier documents) and the changing parts last, so provider
prompt caching applies across rounds.
"""

from __future__ import annotations

from functools import cached_property

from agentos.llm.base import Message, Request
from agentos.repo.context import RepoIndex, repo_context
from agentos.workflows.prompts import UNTRUSTED_NOTE, data_block
from agentos.workflows.review_loop.documents import criteria_of
from agentos.workflows.review_loop.kinds import DocKind
from agentos.workflows.review_loop.validators import ValidationContext
from agentos.workflows.services import Services

ROLE_DRAFTER = (
    "You are a senior engineer writing a {title} for a code change. {purpose}\n"
    "Follow the template's headings exactly (## level). Be concrete: name real files, "
    "functions and tests from the repository context.\n\n{note}\n\nTemplate:\n{template}"
)
ROLE_REVIEWER = (
    "You are a demanding reviewer of a {title}. {purpose}\n"
    "Judge it against the issue and the earlier documents. Verdict APPROVED only when an "
    "implementer could follow it without guessing; REVISE with specific findings otherwise "
    "(give each finding a stable id, and reuse the id when you raise the same point again); "
    "BLOCKED only when the issue itself cannot be done as stated. Answer as JSON matching "
    "the schema.\n\n{note}\n\nTemplate the document must follow:\n{template}"
)


class DocumentContext:
    """The issue, the template, the repository and the earlier documents for one document kind
    (each read once, deterministic), and the requests built from them."""

    def __init__(self, kind: DocKind, services: Services):
        self.kind = kind
        self.s = services
        self.cfg = getattr(services.config.stages, kind.name)

    @cached_property
    def issue(self):
        return self.s.forge.get_issue(self.s.workspace.issue)

    @cached_property
    def template(self) -> str:
        return self.kind.template(self.s.layout.templates_dir, issue_title=self.issue.title,
                                  issue_number=self.issue.number)

    @cached_property
    def index(self) -> RepoIndex:
        exclude = (f"{self.s.config.docs_dir}/", ".agentos/")
        return RepoIndex.build(self.s.workspace.ensure(), self.s.layout.agentos_dir / "cache", exclude)

    @cached_property
    def inputs(self) -> dict[str, str]:
        found = {name: self.s.workspace.read_doc(name) for name in self.kind.inputs}
        return {name: doc[0] for name, doc in found.items() if doc}

    @cached_property
    def stable(self) -> str:
        """The stable part of every prompt: repository, the issue, earlier documents."""
        query = f"{self.issue.title}\n{self.issue.body}\n" + "\n".join(self.inputs.values())
        parts = [
            data_block("repository", repo_context(self.index, self.s.workspace.path, query, self.cfg.context_tokens)),
            data_block(f"issue #{self.issue.number}", f"# {self.issue.title}\n\n{self.issue.body}"),
        ]
        parts += [data_block(f"approved {name} document", text) for name, text in self.inputs.items()]
        return "\n\n".join(parts)

    @cached_property
    def checks(self) -> ValidationContext:
        """What the mechanical checks compare a draft with: the base tree, symbols, criteria, the LLD."""
        git = self.s.workspace.git
        base_files = set(git.run("ls-tree", "-r", "--name-only", self.s.workspace.base).splitlines())
        return ValidationContext(base_files=base_files, symbols=self.index.symbol_names(),
                                 criteria=criteria_of(self.inputs.get("triage", "")),
                                 lld=self.inputs.get("lld", ""))

    def request(self, role: str, changing: list[str], purpose: str, turn: int) -> Request:
        """`role` (ROLE_DRAFTER or ROLE_REVIEWER) as the system prompt, the stable part, then `changing`."""
        system = role.format(title=self.kind.title, purpose=self.kind.purpose, note=UNTRUSTED_NOTE,
                             template=self.template)
        messages = [Message(role="user", content=self.stable)]
        messages += [Message(role="user", content=text) for text in changing]
        return Request(system=system, messages=messages, purpose=purpose, turn=turn)
