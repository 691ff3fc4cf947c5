"""provider:model strings → Provider objects. Provider modules are imported lazily."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from agentos.errors import ProviderConfigError
from agentos.llm.base import Provider
from agentos.llm.clis import CLIS, OLD_NAMES, cli_name

# name → "module:Class". Adding a provider is one module plus one line here.
PROVIDERS: dict[str, str] = {
    "scripted": "agentos.llm.scripted:ScriptedProvider",
    "claude": "agentos.llm.anthropic_api:AnthropicProvider",
    "anthropic": "agentos.llm.anthropic_api:AnthropicProvider",
    "gemini": "agentos.llm.gemini_api:GeminiProvider",
    "openai": "agentos.llm.openai_api:OpenAIProvider",
    "openai-compatible": "agentos.llm.openai_api:OpenAICompatibleProvider",
    "ollama": "agentos.llm.openai_api:OllamaProvider",
    "vllm": "agentos.llm.openai_api:VllmProvider",
    "claude-code": "agentos.llm.agent_cli:ClaudeCli",
    "gemini-cli": "agentos.llm.agent_cli:GeminiCli",
    "codex": "agentos.llm.agent_cli:CodexCli",
}

PROVIDER_NAMES: tuple[str, ...] = (*PROVIDERS, *OLD_NAMES)
"""Every name a model id or the `providers:` settings may use: the providers' and the CLIs' old names."""


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may need to build itself: where the repo and the run live, the
    environment its key comes from (the process's, over the repository's .env), its settings."""

    repo_root: Path
    run_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Provider name → its `providers:` settings from the config."""
    limits: Any = None
    """In a batch: the limits shared with the other workers (llm/limits.py SharedLimits)."""


def split_model_id(model_id: str) -> tuple[str, str]:
    """(provider, model) of a drafter's or reviewer's id; an old CLI name becomes the current one."""
    prefix, sep, model = model_id.partition(":")
    provider = cli_name(prefix)
    if not sep or not provider or not model:
        raise ProviderConfigError(
            f"model {model_id!r} is not in provider:model form",
            f"e.g. anthropic:sonnet-4.6 or openai:gpt-5; known providers: {', '.join(sorted(PROVIDERS))}",
        )
    if provider in CLIS and provider not in PROVIDERS:
        raise ProviderConfigError(
            f"{model_id!r}: {CLIS[provider].title} runs only as the implementer, it cannot draft or review",
            f"use it as stages.implementation.implementer; drafters and reviewers: {', '.join(sorted(PROVIDERS))}",
        )
    if provider not in PROVIDERS:
        raise ProviderConfigError(
            f"unknown model provider {provider!r} in {model_id!r}",
            f"known providers: {', '.join(sorted(PROVIDERS))}",
        )
    check = getattr(provider_class(provider), "check_model", None)
    if check:  # an unknown alias fails here, before any run starts
        check(provider, model)
    return provider, model


def provider_class(provider: str) -> Any:
    """The class registered for a provider name; imports its module (never an SDK)."""
    module_name, _, class_name = PROVIDERS[provider].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def resolve(model_id: str, ctx: ProviderContext) -> Provider:
    provider, model = split_model_id(model_id)
    return provider_class(provider).from_model_id(model_id, model, ctx)


def readiness(model_id: str, ctx: ProviderContext) -> str | None:
    """Why this model cannot be used right now, or None. Imports no SDK."""
    try:
        provider, model = split_model_id(model_id)
    except ProviderConfigError as exc:
        return f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    check = getattr(provider_class(provider), "readiness", None)
    return check(model, ctx) if check else None
