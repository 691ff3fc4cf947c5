"""Choose the forge for a repository from config."""

from __future__ import annotations

from agentos.config import OrchestratorConfig
from agentos.forge.base import Forge
from agentos.paths import RepoLayout


def make_forge(config: OrchestratorConfig, layout: RepoLayout) -> Forge:
    from agentos.forge.local import LocalForge

    return LocalForge(layout.root)
