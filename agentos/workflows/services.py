"""The collaborators every workflow graph is built with. Tests hand in fakes, users real things."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agentos.config import OrchestratorConfig
from agentos.forge.base import Forge
from agentos.llm.base import Provider
from agentos.llm.client import ModelClient
from agentos.llm.journal import CallJournal
from agentos.llm.registry import ProviderContext, resolve
from agentos.paths import RepoLayout
from agentos.progress.events import Progress
from agentos.workflows.workspace import Workspace


@dataclass
class Models:
    """Builds a ModelClient per (stage, model id), sharing providers and the run's journal."""

    context: ProviderContext
    journal: CallJournal
    progress: Progress
    providers: dict[str, Provider] = field(default_factory=dict)

    def client(self, stage: str, model_id: str, attempt: int = 1) -> ModelClient:
        provider = self.providers.get(model_id)
        if provider is None:
            provider = self.providers[model_id] = resolve(model_id, self.context)
        return ModelClient(provider, self.journal, self.progress, stage, salt=f"attempt-{attempt}")


@dataclass
class Services:
    layout: RepoLayout
    config: OrchestratorConfig
    forge: Forge
    models: Models
    progress: Progress
    workspace: Workspace
    run_id: str
    run_dir: Path

    @property
    def repo_root(self) -> Path:
        return self.layout.root


def build_models(layout: RepoLayout, run_dir: Path, progress: Progress) -> Models:
    ctx = ProviderContext(repo_root=layout.root, run_dir=run_dir, env=dict(os.environ))
    return Models(ctx, CallJournal(run_dir / "calls.jsonl"), progress)
