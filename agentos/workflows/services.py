"""The collaborators every workflow graph is built with. Tests hand in fakes, users real things."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agentos import redact
from agentos.config import OrchestratorConfig
from agentos.forge.base import Forge
from agentos.llm.base import Provider
from agentos.llm.budget import Budget, StageCap
from agentos.llm.client import ModelClient
from agentos.llm.journal import CallJournal
from agentos.llm.limits import SharedLimits
from agentos.llm.registry import ProviderContext, resolve
from agentos.paths import RepoLayout
from agentos.progress.events import Progress
from agentos.sandbox import Sandbox, from_config
from agentos.workflows.workspace import Workspace


@dataclass
class Models:
    """Builds a ModelClient per (stage, model id), sharing providers, the run's journal and budget."""

    context: ProviderContext
    journal: CallJournal
    progress: Progress
    providers: dict[str, Provider] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)

    def client(self, stage: str, model_id: str, attempt: int = 1) -> ModelClient:
        provider = self.providers.get(model_id)
        if provider is None:
            provider = self.providers[model_id] = resolve(model_id, self.context)
        return ModelClient(provider, self.journal, self.progress, stage, salt=f"attempt-{attempt}",
                           budget=self.budget)


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

    @property
    def sandbox(self) -> Sandbox:
        """Where model-written code runs; SandboxUnavailable (exit 2) when none can run here."""
        return from_config(self.config.sandbox)


def build_models(layout: RepoLayout, run_dir: Path, progress: Progress,
                 config: OrchestratorConfig | None = None, stage_caps: dict[str, StageCap] | None = None,
                 limits: Path | str | None = None) -> Models:
    """The run's models: one journal and one budget (the run's cap, and each stage's); in a batch
    (`limits`), the batch's budget and provider limits shared with its other workers too."""
    config = config or OrchestratorConfig()
    shared = SharedLimits(limits) if limits is not None else None
    ctx = provider_context(layout.root, config, run_dir, shared)
    budget = Budget(run_dir / "spend.jsonl", config.budget_usd, stage_caps, shared)
    return Models(ctx, CallJournal(run_dir / "calls.jsonl"), progress, budget=budget)


def provider_context(root: Path, config: OrchestratorConfig, run_dir: Path | None = None,
                     limits: SharedLimits | None = None) -> ProviderContext:
    """Where providers find their keys and settings: the environment over the repository's .env."""
    return ProviderContext(repo_root=root, run_dir=run_dir, env=provider_env(root),
                           settings=dict(config.providers), limits=limits)


def provider_env(root: Path) -> dict[str, str]:
    """The process environment over `<root>/.env`: a real variable always wins. The .env's
    secrets are redacted from everything written from now on."""
    from dotenv import dotenv_values

    path = root / ".env"
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    redact.remember(from_file)
    return {**from_file, **os.environ}
