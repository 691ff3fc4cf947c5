"""The issue's work branch and worktree, and the design documents committed on it.

Documents live on the work branch (so they travel in the PR with the code); the user's own
checkout is never written to. An existing document is looked up on the work branch first,
then on the base branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from agentos.config import OrchestratorConfig
from agentos.paths import RepoLayout
from agentos.redact import redact
from agentos.repo.git import Checkout, Git
from agentos.repo.worktrees import default_branch, ensure_worktree, half_made, remove_stale_locks

DOC_FILES = {"triage": "brief.md", "lld": "lld.md", "spec": "spec.md"}


@dataclass
class Workspace:
    layout: RepoLayout
    issue: int
    branch: str
    base: str
    docs_dir: str
    shared_remote: str | None = None
    """With shared state (state.url): the remote whose work branch a new worktree continues from."""
    _checked: bool = field(default=False, init=False, repr=False)

    @classmethod
    def for_issue(cls, layout: RepoLayout, config: OrchestratorConfig, issue: int) -> Workspace:
        ws = cls(layout, issue, f"{config.branch_prefix}{issue}", config.base_branch or "", config.docs_dir,
                 config.github.remote if config.state.url else None)
        if not ws.base:
            ws.base = default_branch(ws.repo)
        return ws

    @property
    def path(self) -> Path:
        return self.layout.worktree(self.issue)

    def ensure(self) -> Path:
        """Create or reuse the worktree; cheap when it exists. Once per process it is also checked
        for having been left half-made by an earlier process (then it is made again)."""
        if not (self.path / ".git").exists() or (not self._checked and half_made(self.repo, self.path)):
            self.layout.ensure()
            ensure_worktree(self.layout.root, self.path, self.branch, self.base,
                            f"{self.shared_remote}/{self.branch}" if self.shared_remote else None)
        self._checked = True
        return self.path

    def remove_stale_locks(self) -> list[Path]:
        """Git lock files a killed run left in the worktree, removed (the caller holds the issue's run lock)."""
        return remove_stale_locks(self.path, self.branch)

    @property
    def git(self) -> Checkout:
        """Git in the issue's worktree (created when missing): every stage's git goes through it."""
        return Checkout(self.ensure())

    @cached_property
    def repo(self) -> Git:
        """Git in the user's repository, for reading only: branches and the documents on them."""
        return Git(self.layout.root)

    def doc_path(self, kind: str) -> str:
        return f"{self.docs_dir}/issue-{self.issue}/{DOC_FILES[kind]}"

    def read_doc(self, kind: str) -> tuple[str, str] | None:
        """(text, where) of an existing document, on the work branch or else the base branch."""
        rel = self.doc_path(kind)
        local = self.path / rel
        if local.exists():
            return local.read_text(encoding="utf-8"), f"{self.branch}:{rel}"
        for ref in (self.branch, self.base):
            if self.repo.rev_parse(ref) and (text := self.repo.show_file(ref, rel)) is not None:
                return text, f"{ref}:{rel}"
        return None

    def write_doc(self, kind: str, text: str, message: str) -> str:
        """Write the document into the worktree and commit it; returns its repo-relative path."""
        rel = self.doc_path(kind)
        target = self.ensure() / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redact(text), encoding="utf-8")
        self.git.commit_all(message)
        return rel

