"""Model facts as plain data: friendly aliases → API model ids, context windows, capabilities, prices.

One table per vendor family. `claude:opus-4.5`, `claude-code:opus-4.5` and `anthropic:opus-4.5`
all look up the "anthropic" family; a full API model id of a listed model works too. A name that
is neither is refused (listing the aliases), unless it looks like the vendor's own naming
(`claude-…`, `gemini-…`, `gpt-…`), so a model released after this table can still be used —
unpriced until it is added here. Local servers (Ollama, vLLM) take any model name and cost
nothing per token.

Prices are USD per million tokens. `cache_write` is what a prompt-cache write costs (Anthropic's
5-minute cache); providers that cache automatically bill writes as plain input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentos.errors import ProviderConfigError
from agentos.llm.base import Usage
from agentos.llm.clis import CLIS, cli_name

CHECKED = "2026-11-24"
"""When the prices below were compared with (stored copies of) the vendors' pricing pages, or
where none was at hand, with published third-party tables citing them. Prices change: re-check
them against the `source` pages before trusting a budget cap with real money."""


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float
    checked: str = CHECKED
    source: str = ""
    long_context: tuple[int, Price] | None = None
    """(prompt tokens, price): a prompt longer than this is billed wholly at the second price."""

    def for_prompt(self, prompt_tokens: int) -> Price:
        if self.long_context and prompt_tokens > self.long_context[0]:
            return self.long_context[1]
        return self

    def cost(self, usage: Usage) -> float:
        """What a call with this usage costs; `input_tokens` are the uncached ones."""
        prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        p = self.for_prompt(prompt)
        total = (usage.input_tokens * p.input + usage.output_tokens * p.output
                 + usage.cache_read_tokens * p.cache_read + usage.cache_write_tokens * p.cache_write)
        return round(total / 1_000_000, 8)


FREE = Price(0.0, 0.0, 0.0, 0.0, source="runs on your own machine or server")


@dataclass(frozen=True)
class ModelInfo:
    api_id: str
    """The model id the vendor's API takes."""
    context_window: int = 128_000
    max_output: int = 8_192
    capabilities: frozenset[str] = field(default_factory=lambda: frozenset({"tools", "json_schema"}))
    price: Price | None = None
    """None: unpriced (cost reported as 0, budget caps cannot count it)."""


_ANTHROPIC = "https://platform.claude.com/docs/en/about-claude/pricing"
_GOOGLE = "https://ai.google.dev/gemini-api/docs/pricing"
_OPENAI = "https://platform.openai.com/docs/pricing"
_CLAUDE_CAPS = frozenset({"tools", "json_schema", "prompt_cache"})
_AUTO_CACHE = frozenset({"tools", "json_schema", "auto_cache"})


def _anthropic(api_id: str, inp: float, out: float, window: int = 200_000, max_out: int = 64_000) -> ModelInfo:
    price = Price(inp, out, cache_read=inp / 10, cache_write=inp * 1.25, source=_ANTHROPIC)
    return ModelInfo(api_id, window, max_out, _CLAUDE_CAPS, price)


def _gemini(api_id: str, price: Price, max_out: int = 65_536) -> ModelInfo:
    return ModelInfo(api_id, 1_048_576, max_out, _AUTO_CACHE, price)


def _openai(api_id: str, inp: float, out: float, cached: float, window: int, max_out: int) -> ModelInfo:
    return ModelInfo(api_id, window, max_out, _AUTO_CACHE, Price(inp, out, cached, inp, source=_OPENAI))


def _google_price(inp: float, out: float, cached: float, long: tuple[float, float, float] | None = None) -> Price:
    above = Price(*long, long[0], source=_GOOGLE) if long else None
    return Price(inp, out, cached, inp, source=_GOOGLE, long_context=(200_000, above) if above else None)


ALIASES: dict[str, dict[str, ModelInfo]] = {
    "anthropic": {
        "opus-4.5": _anthropic("claude-opus-4-5-20251101", 5.0, 25.0),
        "opus-4.6": _anthropic("claude-opus-4-6", 5.0, 25.0),
        "sonnet-4.6": _anthropic("claude-sonnet-4-6", 3.0, 15.0),
        "haiku-4.5": _anthropic("claude-haiku-4-5-20251001", 1.0, 5.0),
    },
    "gemini": {
        "3-pro-preview": _gemini("gemini-3-pro-preview", _google_price(2.0, 12.0, 0.20, (4.0, 18.0, 0.40))),
        "3.1-pro-preview": _gemini("gemini-3.1-pro-preview", _google_price(2.0, 12.0, 0.20, (4.0, 18.0, 0.40))),
        "3-flash-preview": _gemini("gemini-3-flash-preview", _google_price(0.50, 3.0, 0.05)),
        "2.5-pro": _gemini("gemini-2.5-pro", _google_price(1.25, 10.0, 0.125, (2.50, 15.0, 0.25))),
        "2.5-flash": _gemini("gemini-2.5-flash", _google_price(0.30, 2.50, 0.03)),
    },
    "openai": {
        "gpt-5": _openai("gpt-5", 1.25, 10.0, 0.125, 400_000, 128_000),
        "gpt-5-mini": _openai("gpt-5-mini", 0.25, 2.0, 0.025, 400_000, 128_000),
        "gpt-5.1": _openai("gpt-5.1", 1.25, 10.0, 0.125, 400_000, 128_000),
        "gpt-5.4": _openai("gpt-5.4", 2.50, 15.0, 0.25, 400_000, 128_000),
        "gpt-5.4-mini": _openai("gpt-5.4-mini", 0.75, 4.50, 0.075, 400_000, 128_000),
    },
}

FAMILY: dict[str, str] = {
    "claude": "anthropic", "anthropic": "anthropic", "claude-code": "anthropic",
    "gemini": "gemini", "gemini-cli": "gemini",
    "openai": "openai", "codex": "openai",
    "ollama": "local", "vllm": "local", "openai-compatible": "compatible",
}
"""Provider name → whose models it serves. `local` is free; `compatible` servers are unpriced.
An agent CLI's old name (`claude-cli`, `codex-cli`) is looked up as its current one."""

VENDOR_NAMING = {"anthropic": re.compile(r"^claude-[a-z0-9.-]+$"), "gemini": re.compile(r"^gemini-[a-z0-9.-]+$"),
                 "openai": re.compile(r"^(gpt-[a-z0-9.-]+|o\d[a-z0-9.-]*|codex-[a-z0-9.-]+)$")}

CLI_DEFAULT = "default"
"""`claude-code:default` (and the other CLIs): whatever model the logged-in CLI is set to use."""


def model_info(provider: str, name: str) -> ModelInfo:
    """The facts about `provider:name`; a ProviderConfigError listing the aliases when unknown."""
    provider = cli_name(provider)
    family = FAMILY.get(provider)
    if family in ("local", "compatible"):
        return ModelInfo(name, price=FREE if family == "local" else None)
    if provider in CLIS and name == CLI_DEFAULT:
        return ModelInfo("")
    table = ALIASES.get(family or "", {})
    if name in table:
        return table[name]
    known = next((info for info in table.values() if info.api_id == name or info.api_id.startswith(name + "-")), None)
    if known:
        return known
    if family in VENDOR_NAMING and VENDOR_NAMING[family].match(name):
        return ModelInfo(name)
    raise ProviderConfigError(
        f"unknown model {name!r} for provider {provider!r}",
        f"known aliases: {', '.join(table)}" + (f", or {CLI_DEFAULT}" if provider in CLIS else "")
        + "; or the vendor's full model id",
    )


def unpriced(model_id: str) -> bool:
    """A vendor or server model whose cost we cannot count (not a scripted or unknown one)."""
    return cli_name(model_id.partition(":")[0]) in FAMILY and price_for(model_id) is None


def price_for(model_id: str) -> Price | None:
    """The price of a "provider:model" id, or None when unpriced or not a vendor model."""
    provider, _, name = model_id.partition(":")
    if cli_name(provider) not in FAMILY:
        return None
    try:
        return model_info(provider, name).price
    except ProviderConfigError:
        return None
