"""The orchestrator's view of the configuration: for each stage, its section, models and gate.

The schema itself lives in agentos.config; this module maps the pipeline's stages onto it, so
the dry run, readiness checks and `agentos doctor` agree on which model serves which stage.
"""

from __future__ import annotations

from agentos.config import (
    CodeReviewStageConfig, ImplementationStageConfig, OrchestratorConfig, ReviewStageConfig,
)
from agentos.llm.budget import StageCap

GATES: dict[str, str] = {
    "after_triage": "triage",
    "after_lld": "lld",
    "after_spec": "spec",
    "after_review": "review",
    "before_pr": "impl",
}
"""Gate name → the stage whose result it approves; a rejection sends feedback to that stage."""

FOLLOWS: dict[str, str] = {**GATES, "before_pr": "review"}
"""Gate name → the stage it comes after. The gate before the PR follows the code review, so
people approve reviewed code; its rejection still goes to the implementation stage (and the
code review then runs again)."""

GATE_AFTER: dict[str, tuple[str, ...]] = {
    stage: tuple(g for g, s in FOLLOWS.items() if s == stage) for stage in dict.fromkeys(FOLLOWS.values())
}
"""Stage → the gates that follow it, in order (the PR stage has none)."""

SECTIONS: dict[str, str] = {"triage": "triage", "lld": "lld", "spec": "spec", "impl": "implementation",
                            "review": "review"}
"""Stage → its section under `stages:` (the PR stage has none)."""

MODEL_ROLES: dict[str, tuple[str, ...]] = {
    "triage": ("drafter", "reviewer"),
    "lld": ("drafter", "reviewer"),
    "spec": ("drafter", "reviewer"),
    "impl": ("implementer",),
    "review": ("reviewer",),
}
"""Stage → the keys of its section that name a model (the code review's fix rounds also call
the implementer, see `stage_models`)."""

SKIP_EXISTING: dict[str, str] = {"triage": "skip_existing_brief", "lld": "skip_existing_lld",
                                 "spec": "skip_existing_spec"}
"""Document stage → the setting that lets an approved existing document stand in for the stage."""


def stage_config(config: OrchestratorConfig,
                 stage: str) -> ReviewStageConfig | ImplementationStageConfig | CodeReviewStageConfig:
    """The stage's section of `stages:`."""
    return getattr(config.stages, SECTIONS[stage])


def model_uses(config: OrchestratorConfig) -> list[tuple[str, str, str]]:
    """(stage, config key, model id) for every model the pipeline uses, in stage order."""
    return [(stage, f"stages.{section}.{role}", getattr(stage_config(config, stage), role))
            for stage, section in SECTIONS.items() for role in MODEL_ROLES[stage]]


def stage_models(config: OrchestratorConfig, stage: str) -> list[str]:
    """The model ids a stage calls (none for the PR stage); the code review's fix rounds are the
    implementer's."""
    used = [model_id for s, _, model_id in model_uses(config) if s == stage]
    if stage == "review":
        used.append(config.stages.implementation.implementer)
    return list(dict.fromkeys(used))


def skips_existing(config: OrchestratorConfig, stage: str) -> bool:
    """Whether an approved existing document lets this document stage be skipped."""
    return getattr(config, SKIP_EXISTING[stage])


def stage_caps(config: OrchestratorConfig) -> dict[str, StageCap]:
    """Stage → its spending cap, for the stages whose section sets `budget_usd`."""
    caps = {stage: stage_config(config, stage).budget_usd for stage in SECTIONS}
    return {stage: StageCap(usd, f"stages.{SECTIONS[stage]}.budget_usd") for stage, usd in caps.items()
            if usd is not None}
