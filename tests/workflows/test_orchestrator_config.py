"""The orchestrator's view of config: each stage's section, models, gate and skip flag."""

from __future__ import annotations

from agentos.config import OrchestratorConfig
from agentos.workflows.orchestrator.config import (
    FOLLOWS, GATE_AFTER, GATES, model_uses, skips_existing, stage_config, stage_models,
)
from agentos.workflows.orchestrator.state import STAGES


def _config() -> OrchestratorConfig:
    return OrchestratorConfig.model_validate({
        "stages": {"triage": {"drafter": "scripted:a", "reviewer": "scripted:b"},
                   "lld": {"drafter": "scripted:c", "reviewer": "scripted:b"},
                   "implementation": {"implementer": "codex:gpt-5"}},
        "skip_existing_lld": False,
    })


def test_every_model_use_is_named_by_stage_and_config_key_in_stage_order():
    uses = model_uses(_config())
    assert [(stage, key) for stage, key, _ in uses] == [
        ("triage", "stages.triage.drafter"), ("triage", "stages.triage.reviewer"),
        ("lld", "stages.lld.drafter"), ("lld", "stages.lld.reviewer"),
        ("spec", "stages.spec.drafter"), ("spec", "stages.spec.reviewer"),
        ("impl", "stages.implementation.implementer"), ("review", "stages.review.reviewer"),
    ]
    assert uses[2][2] == "scripted:c" and uses[-2][2] == "codex:gpt-5"
    assert uses[-1][2] == config_default_spec_reviewer()


def config_default_spec_reviewer() -> str:
    return _config().stages.spec.reviewer


def test_stage_models_and_sections():
    config = _config()
    assert stage_models(config, "triage") == ["scripted:a", "scripted:b"]
    assert stage_models(config, "impl") == ["codex:gpt-5"] and stage_models(config, "pr") == []
    assert stage_config(config, "impl") is config.stages.implementation
    assert stage_config(config, "lld") is config.stages.lld
    # The code review's fix rounds are the implementer's: the stage calls both models.
    assert stage_models(config, "review") == [config.stages.spec.reviewer, "codex:gpt-5"]


def test_the_code_reviewer_defaults_to_the_specs_reviewer_and_can_be_set():
    config = OrchestratorConfig.model_validate({"stages": {"spec": {"reviewer": "scripted:r"}}})
    assert config.stages.review.reviewer == "scripted:r"
    config = OrchestratorConfig.model_validate({"stages": {"review": {"reviewer": "scripted:x", "max_rounds": 2}}})
    assert config.stages.review.reviewer == "scripted:x" and config.stages.review.max_rounds == 2


def test_each_gate_follows_one_stage_and_skip_flags_follow_the_config():
    assert set(GATES.values()) <= set(STAGES) and GATE_AFTER == {
        "triage": ("after_triage",), "lld": ("after_lld",), "spec": ("after_spec",),
        "review": ("after_review", "before_pr")}
    # The gate before the PR follows the code review, and its rejection goes to the implementation.
    assert FOLLOWS["before_pr"] == "review" and GATES["before_pr"] == "impl"
    config = _config()
    assert not skips_existing(config, "lld") and skips_existing(config, "triage") == config.skip_existing_brief
