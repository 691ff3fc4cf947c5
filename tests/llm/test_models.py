"""Model facts: aliases, the vendors' own ids, prices, and the providers: config section."""

from __future__ import annotations

import pytest

from agentos.config import AgentosConfig
from agentos.errors import ConfigError, ProviderConfigError
from agentos.llm.base import Usage
from agentos.llm.models import ALIASES, FREE, model_info, price_for, unpriced
from agentos.llm.registry import ProviderContext, readiness, split_model_id


def test_aliases_and_full_ids_resolve_to_the_same_model():
    assert model_info("claude", "opus-4.5").api_id == "claude-opus-4-5-20251101"
    assert model_info("anthropic", "claude-opus-4-5") is model_info("claude", "opus-4.5")
    assert model_info("claude-cli", "opus-4.5").api_id == "claude-opus-4-5-20251101"
    assert model_info("gemini", "3-pro-preview").api_id == "gemini-3-pro-preview"
    assert model_info("codex-cli", "default").api_id == ""


def test_every_aliased_model_is_priced_with_a_date_and_source():
    for family in ALIASES.values():
        for info in family.values():
            assert info.price and info.price.checked and info.price.source.startswith("https://")
            assert info.price.output > info.price.input > info.price.cache_read


def test_unknown_alias_lists_the_known_ones():
    with pytest.raises(ProviderConfigError) as info:
        split_model_id("claude:opus-9")
    assert "opus-4.5" in info.value.hint and "sonnet-4.6" in info.value.hint


def test_a_new_vendor_model_is_usable_but_unpriced():
    assert model_info("openai", "gpt-7-preview").price is None
    assert price_for("openai:gpt-7-preview") is None
    with pytest.raises(ProviderConfigError):
        model_info("openai", "claude-opus-4-5")  # not OpenAI's naming


def test_local_servers_take_any_name_and_cost_nothing():
    assert model_info("ollama", "qwen3:32b").price is FREE
    assert price_for("vllm:meta-llama/Llama-3.1-8B") is FREE
    assert price_for("openai-compatible:anything") is None
    assert unpriced("openai-compatible:anything") and not unpriced("ollama:x") and not unpriced("scripted:s.yaml")


def test_cost_from_usage_including_cache_and_long_context():
    price = price_for("claude:opus-4.5")
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=2_000_000, cache_write_tokens=400_000)
    assert price.cost(usage) == pytest.approx(5 + 2.5 + 1.0 + 2.5)
    gemini = price_for("gemini:3-pro-preview")
    assert gemini.cost(Usage(input_tokens=100_000)) == pytest.approx(0.2)
    assert gemini.cost(Usage(input_tokens=150_000, cache_read_tokens=60_000)) == pytest.approx(0.6 + 0.024)


def test_readiness_explains_unknown_providers_and_aliases(tmp_path):
    ctx = ProviderContext(repo_root=tmp_path)
    assert "known providers" in readiness("warp:drive", ctx)
    assert "known aliases" in readiness("gemini:flash-9", ctx)


def test_providers_section_is_validated():
    cfg = AgentosConfig.model_validate({"orchestrator": {
        "budget_usd": 5, "providers": {"ollama": {"base_url": "http://gpu-box:11434/v1", "timeout_s": 900}}}})
    assert cfg.orchestrator.providers["ollama"].base_url == "http://gpu-box:11434/v1"
    with pytest.raises(ValueError, match="unknown provider"):
        AgentosConfig.model_validate({"orchestrator": {"providers": {"olama": {}}}})
    with pytest.raises(ValueError, match="extra"):
        AgentosConfig.model_validate({"orchestrator": {"providers": {"ollama": {"api_key": "sk-no"}}}})


def test_budget_and_provider_settings_from_the_command_line(tmp_path):
    from agentos.config import flatten, load_config

    loaded = load_config(tmp_path, sets=["budget_usd=2.5", "stages.lld.budget_usd=1",
                                         "providers.vllm.base_url=http://h:8000/v1"])
    assert loaded.config.budget_usd == 2.5 and loaded.config.stages.lld.budget_usd == 1
    assert flatten(loaded.config)["providers.vllm.base_url"] == "http://h:8000/v1"
    with pytest.raises(ConfigError):
        load_config(tmp_path, sets=["budget_usd=-1"])
