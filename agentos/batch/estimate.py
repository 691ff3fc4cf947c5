"""What an issue's run may cost, before anything runs: from prompt sizes and the price table.

A document stage's calls are a draft and a review per round; each prompt is the stage's context
budget (`context_tokens`) plus the issue, and a review also reads the draft. The low figure is one
round per stage and a short implementation (a tenth of its steps, one round); the high one is
every revision and every step of every fix round, each round within its own cost cap. The code
review reads twice its context budget (the repository, then the diff and the files it touches):
low, one approving round; high, every round, with the implementer's fix rounds between. Answers
are taken at typical sizes (ANSWER_TOKENS). Unpriced models (scripted, local servers) count $0.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentos.config import OrchestratorConfig
from agentos.llm.budget import CHARS_PER_TOKEN
from agentos.llm.models import price_for
from agentos.workflows.orchestrator.config import stage_config
from agentos.workflows.orchestrator.plan import DOC_STAGES

ANSWER_TOKENS = {"draft": 4000, "review": 1500, "step": 1500}
IMPL_PROMPT_TOKENS = 24_000
"""A turn of the implementer: the spec, the files it works on, the conversation so far (bounded)."""


@dataclass
class Estimate:
    low_usd: float = 0.0
    high_usd: float = 0.0
    calls_low: int = 0
    calls_high: int = 0


def call_usd(model_id: str, prompt_tokens: int, answer_tokens: int) -> float:
    price = price_for(model_id)
    if price is None:
        return 0.0
    p = price.for_prompt(prompt_tokens)
    return (prompt_tokens * p.input + answer_tokens * p.output) / 1_000_000


def estimate(config: OrchestratorConfig, plan: dict[str, dict], issue_text: str) -> Estimate:
    """Low and high cost of the stages the plan runs."""
    est = Estimate()
    issue_tokens = len(issue_text) // CHARS_PER_TOKEN + 1
    for stage in DOC_STAGES:
        if plan[stage]["action"] != "run":
            continue
        c = stage_config(config, stage)
        prompt = c.context_tokens + issue_tokens
        one = (call_usd(c.drafter, prompt, ANSWER_TOKENS["draft"])
               + call_usd(c.reviewer, prompt + ANSWER_TOKENS["draft"], ANSWER_TOKENS["review"]))
        est.low_usd += one
        est.high_usd += one * (1 + c.max_revisions)
        est.calls_low += 2
        est.calls_high += 2 * (1 + c.max_revisions)
    if plan["impl"]["action"] == "run":
        c = stage_config(config, "impl")
        step = call_usd(c.implementer, IMPL_PROMPT_TOKENS + issue_tokens, ANSWER_TOKENS["step"])
        rounds = 1 + c.max_test_retries
        short = max(1, c.max_steps // 10)
        est.low_usd += step * short
        est.high_usd += min(step * c.max_steps, c.max_cost_per_round_usd or step * c.max_steps) * rounds
        est.calls_low += short
        est.calls_high += c.max_steps * rounds
    if plan.get("review", {}).get("action") == "run":
        _code_review(est, config, issue_tokens)
    return est


def _code_review(est: Estimate, config: OrchestratorConfig, issue_tokens: int) -> None:
    c, impl = stage_config(config, "review"), stage_config(config, "impl")
    review = call_usd(c.reviewer, 2 * c.context_tokens + issue_tokens, ANSWER_TOKENS["review"])
    step = call_usd(impl.implementer, IMPL_PROMPT_TOKENS + issue_tokens, ANSWER_TOKENS["step"])
    fix_rounds = (c.max_rounds - 1) * (1 + impl.max_test_retries)
    est.low_usd += review
    est.high_usd += review * c.max_rounds + min(step * impl.max_steps, impl.max_cost_per_round_usd
                                                 or step * impl.max_steps) * fix_rounds
    est.calls_low += 1
    est.calls_high += c.max_rounds + impl.max_steps * fix_rounds
