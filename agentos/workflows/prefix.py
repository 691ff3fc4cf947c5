"""The run's shared prompt prefix: what every model call of a run starts with, byte for byte.

Providers cache prompt prefixes (Anthropic at explicit breakpoints, OpenAI and Gemini by
themselves), and a cache serves a call only up to its first differing byte. So every call of a
run (drafters, reviewers, the implementer) opens with the same system prompt and the same
first messages: the repository (its map and the files most relevant to the issue), the issue,
then the documents approved so far in stage order, one message each, so a later stage's
prefix extends an earlier one's. The role, the stage's task, the round, drafts and findings come
after it. A cache serves one model, and providers put tool definitions before everything else in
its key: so every call by the implementing model carries its tools (TOOLS), which only the
implementer calls.

Once the LLD is approved, the files its "Files changed" table lists follow it whole, as they are
on the work branch before any change (those not already whole in the repository part), so the
spec writer, the implementer and the code reviewer read them from the same cached prefix rather
than each in its own part of the prompt.

The repository part is chosen once per run (from the issue alone), and the design's files once
per approved LLD, and both are kept in the run folder, so every stage, and a resumed run, sends
the same bytes.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

from agentos.files import write_atomic
from agentos.llm.base import Message, ToolSpec
from agentos.markdown.escape import fenced
from agentos.repo.context import RepoIndex, repo_context
from agentos.workflows.implementation import docs, prompts
from agentos.workflows.implementation.tools import TOOL_SPECS
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
TOOLS = TOOL_SPECS
"""The implementer's tools. Tool definitions open a provider's prompt-cache key (before the system
prompt), and a cache serves one model: so every call by the model that implements carries them
(its drafts, with tool_choice none: Request.use_tools), and the other models' calls carry none."""
STAGES = ("triage", "lld", "spec")
"""The documents in the order they are approved; each stage's prefix holds those before it."""
DOC_TITLES = {"triage": "approved issue brief", "lld": "approved low-level design",
              "spec": "approved implementation spec"}
CONTEXT_FILE = "repository-context.md"
DESIGN_FILES = "files the approved design lists, as they are before the change"


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

    def tools(self, model_id: str) -> list[ToolSpec]:
        """The tools a call by `model_id` carries: the implementer's when it is the run's implementing
        model (so its drafts and its tool loop share one cache key), else none."""
        return TOOLS if model_id == self.s.config.stages.implementation.implementer else []

    def design_files(self, lld: str) -> str:
        """The files the LLD lists that are not already whole in the repository part, whole as they
        are on the work branch before the change, within implementation.context_tokens ("" when
        there are none): read when the LLD is first used and kept in the run folder, so every later
        call (and a resumed run, whatever the worktree holds by then) sends the same bytes."""
        saved = self.s.run_dir / f"design-files-{hashlib.sha256(lld.encode()).hexdigest()[:12]}.md"
        if saved.is_file():
            return saved.read_text(encoding="utf-8")
        ws = self.s.workspace
        files = docs.named_files(lambda path: _text(ws.repo.show_file(ws.branch, path)), lld,
                                 self.s.config.stages.implementation.context_tokens)
        sent = [(path, text) for path, text in files if text and fenced(text) not in self.repository]
        text = prompts.named_files(sent, title=DESIGN_FILES)
        write_atomic(saved, text)
        return text

    def messages(self, stage: str) -> list[Message]:
        """The prefix's messages for a call of `stage`: the repository and the issue, then one
        message per approved earlier document (the LLD followed by the files it lists)."""
        issue = data_block(f"issue #{self.issue.number}", f"# {self.issue.title}\n\n{self.issue.body}")
        parts = [f"{data_block('repository', self.repository)}\n\n{issue}"]
        for name, text in self.documents(stage).items():
            parts.append(data_block(DOC_TITLES[name], text))
            if name == "lld" and (files := self.design_files(text)):
                parts.append(files)
        return [Message(role="user", content=text) for text in parts]


def _text(content: str | None) -> str | None:
    """A file's content as git gave it, or None when it is not text (git replaced bytes, or NUL)."""
    return None if content is None or "\ufffd" in content or "\0" in content else content


def context_budget(services: Services) -> int:
    """Tokens of repository context shared by the run: the largest budget of the document stages,
    since every stage now reads the same context (and pays for it once, then from the cache)."""
    stages = services.config.stages
    return max(stages.triage.context_tokens, stages.lld.context_tokens, stages.spec.context_tokens)
