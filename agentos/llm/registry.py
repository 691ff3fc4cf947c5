"""provider:model strings → Provider objects. Provider modules are imported lazily."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from agentos.errors import ProviderConfigError
from agentos.llm.base import Provider

# name → "module:Class". Adding a provider is one module plus one line here.
PROVIDERS: dict[str, str] = {
    "scripted": "agentos.llm.scripted:ScriptedProvider",
}


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may need to build itself: where the repo and the run live."""

    repo_root: Path
    run_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def split_model_id(model_id: str) -> tuple[str, str]:
    provider, sep, model = model_id.partition(":")
    if not sep or not provider or not model:
        raise ProviderConfigError(
            f"model {model_id!r} is not in provider:model form",
            f"e.g. scripted:demo; known providers: {', '.join(sorted(PROVIDERS))}",
        )
    if provider not in PROVIDERS:
        raise ProviderConfigError(
            f"unknown model provider {provider!r} in {model_id!r}",
            f"known providers: {', '.join(sorted(PROVIDERS))}",
        )
    return provider, model


def resolve(model_id: str, ctx: ProviderContext) -> Provider:
    provider, model = split_model_id(model_id)
    module_name, _, class_name = PROVIDERS[provider].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_model_id(model_id, model, ctx)


def readiness(model_id: str, ctx: ProviderContext) -> str | None:
    """Why this model cannot be used right now, or None. Imports no SDK."""
    try:
        provider, model = split_model_id(model_id)
    except ProviderConfigError as exc:
        return exc.message
    module_name, _, class_name = PROVIDERS[provider].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    check = getattr(cls, "readiness", None)
    return check(model, ctx) if check else None
