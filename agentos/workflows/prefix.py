"""The run's shared prompt prefix: what every model call of a run starts with, byte for byte.

Providers cache prompt prefixes (Anthropic at explicit breakpoints, OpenAI and Gemini by
themselves), and a cache serves a call only up to its first differing byte. So every call of a
run (drafters, reviewers, the implementer) opens with the same system prompt and the same
first messages: the repository (its map and the files most relevant to the issue), the issue,
then the documents approved so far in stage order, one message each, so a later stage's
prefix extends an earlier one's. The role, the stage's task, the round, drafts and findings
come after it.

The repository part is chosen once per run (from the issue alone) and kept in the run folder,
so every stage, and a resumed run, sends the same files.
"""

from __future__ import annotations

from functools import cached_property

from agentos.files import write_atomic
from agentos.llm.base import Message
from agentos.repo.context import RepoIndex, repo_context
from agentos.workflows.prompts import UNTRUSTED_NOTE, data_block
from agentos.workflows.services import Services

SYSTEM = (
    "You work on one issue of a code repository, in one of the roles of a staged pipeline: an "
    "issue brief, a low-level design and an implementation spec are each drafted and reviewed, "
    "then the change is implemented with tools, tests first. Every request of the pipeline "
    "opens with the same context: the repository (a map and the files most relevant to the "
    "issue), the issue, and the documents approved so far. Your role and your task follow that "
    "context, at the end of the conversation: do what they ask.\n\n" + UNTRUSTED_NOTE
)
STAGES = ("triage", "lld", "spec")
"""The documents in the order they are approved; each stage's prefix holds those before it."""
DOC_TITLES = {"triage": "approved issue brief", "lld": "approved low-level design",
              "spec": "approved implementation spec"}
CONTEXT_FILE = "repository-context.md"


class RunPrefix:
    """The shared prefix of one run's prompts, built from the issue, the repository and the
    approved documents (each read once)."""

    def __init__(self, services: Services):
        self.s = services

    @cached_property
    def issue(self):
        return self.s.forge.get_issue(self.s.workspace.issue)

    @cached_property
    def index(self) -> RepoIndex:
        exclude = (f"{self.s.config.docs_dir}/", ".agentos/")
        return RepoIndex.build(self.s.workspace.ensure(), self.s.layout.agentos_dir / "cache", exclude)

    @cached_property
    def repository(self) -> str:
        """The repository map and relevant files: chosen by the first stage of the run that asks,
        then read back from the run folder, so every call of the run sends the same bytes."""
        saved = self.s.run_dir / CONTEXT_FILE
        if saved.is_file():
            return saved.read_text(encoding="utf-8")
        query = f"{self.issue.title}\n{self.issue.body}\n"
        text = repo_context(self.index, self.s.workspace.path, query, context_budget(self.s))
        write_atomic(saved, text)
        return text

    def documents(self, before: str) -> dict[str, str]:
        """The approved documents of the stages before `before` (a stage name), in stage order."""
        names = STAGES[:STAGES.index(before)] if before in STAGES else STAGES
        found = {name: self.s.workspace.read_doc(name) for name in names}
        return {name: doc[0] for name, doc in found.items() if doc}

    def messages(self, stage: str) -> list[Message]:
        """The prefix's messages for a call of `stage`: the repository and the issue, then one
        message per approved earlier document."""
        issue = data_block(f"issue #{self.issue.number}", f"# {self.issue.title}\n\n{self.issue.body}")
        first = f"{data_block('repository', self.repository)}\n\n{issue}"
        docs = [data_block(DOC_TITLES[name], text) for name, text in self.documents(stage).items()]
        return [Message(role="user", content=text) for text in (first, *docs)]


def context_budget(services: Services) -> int:
    """Tokens of repository context shared by the run: the largest budget of the document stages,
    since every stage now reads the same context (and pays for it once, then from the cache)."""
    stages = services.config.stages
    return max(stages.triage.context_tokens, stages.lld.context_tokens, stages.spec.context_tokens)
