"""Budget caps that hold: per run and per stage, checked before every paid call.

Before a call that is not replayed from the journal, its worst case is reserved: the prompt
(estimated generously, at the dearer of the input and cache-write prices) plus `max_tokens` at
the output price. If what was spent plus that worst case would cross the run's or the stage's
cap, BudgetExhausted (exit 5) is raised and nothing is called: a cap is never overshot by more
than one call's reservation. Every paid call, failed and unparseable ones included, is written
to the run's spend ledger (`spend.jsonl`, fsynced) before its answer is used, so a resumed run
knows what was spent, and re-running with a raised cap continues the same run. In a batch the
same reservation is also made against the batch's cap, shared by every worker (llm/limits.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentos.errors import BudgetExhausted
from agentos.files import append_line, read_jsonl
from agentos.llm.base import Request
from agentos.llm.limits import SharedLimits
from agentos.llm.models import Price, price_for

CHARS_PER_TOKEN = 3
"""Generous: English prose is about 4 characters a token, code and JSON fewer."""


@dataclass(frozen=True)
class StageCap:
    """A stage's spending cap, and the setting that raises it (named when the cap is hit)."""

    usd: float
    setting: str


def estimate_input_tokens(request: Request) -> int:
    parts = [request.system, *(m.content for m in request.messages)]
    parts += [json.dumps(c.arguments) for m in request.messages for c in m.tool_calls]
    parts += [json.dumps(t.model_dump()) for t in request.tools]
    if request.output_schema is not None:
        parts.append(json.dumps(request.output_schema))
    return math.ceil(sum(len(p) for p in parts) / CHARS_PER_TOKEN)


def worst_case_usd(request: Request, price: Price | None) -> float:
    """The most this call can cost; 0 for an unpriced model (which a cap cannot count)."""
    if price is None:
        return 0.0
    prompt = estimate_input_tokens(request)
    p = price.for_prompt(prompt)
    return (prompt * max(p.input, p.cache_write) + request.max_tokens * p.output) / 1_000_000


class Budget:
    def __init__(self, ledger: Path | None = None, run_cap: float | None = None,
                 stage_caps: Mapping[str, StageCap] | None = None, shared: SharedLimits | None = None):
        self.ledger = ledger
        self.shared = shared
        self._held: int | None = None
        self.run_cap = run_cap
        self.stage_caps = dict(stage_caps or {})
        self.by_stage: dict[str, float] = {}
        if ledger is not None and ledger.exists():
            self._load(ledger)

    def _load(self, path: Path) -> None:
        for record in read_jsonl(path):
            try:
                self._add(record["stage"], float(record["cost_usd"]))
            except (ValueError, KeyError, TypeError):
                continue  # not a paid call's record

    def _add(self, stage: str, cost: float) -> None:
        self.by_stage[stage] = self.by_stage.get(stage, 0.0) + cost

    def spent(self, stage: str | None = None) -> float:
        return self.by_stage.get(stage, 0.0) if stage else sum(self.by_stage.values())

    def reserve(self, stage: str | None, model_id: str, request: Request) -> float:
        """The call's worst case, after checking it fits every cap; BudgetExhausted when not."""
        worst = worst_case_usd(request, price_for(model_id))
        if self.run_cap is not None:
            self._check(self.spent(), self.run_cap, worst, "the run", "budget_usd", model_id, request)
        cap = self.stage_caps.get(stage or "")
        if cap is not None:
            self._check(self.spent(stage), cap.usd, worst, f"stage {stage}", cap.setting, model_id, request)
        if self.shared is not None:
            self._held = self.shared.reserve(worst, f"{request.purpose} on {model_id}")
        return worst

    def _check(self, spent: float, cap: float, worst: float, scope: str, key: str, model_id: str,
               request: Request) -> None:
        if spent + worst <= cap:
            return
        suggestion = math.ceil((spent + worst) * 2 * 100) / 100
        raise BudgetExhausted(
            f"budget: {scope} has spent ${spent:.4f} of its ${cap:.2f} cap, and the next call "
            f"({request.purpose} on {model_id}) could cost up to ${worst:.4f}; paused before calling",
            f"raise the cap and run the same command again with --set {key}={suggestion:g}",
        )

    def charge(self, stage: str | None, model_id: str, purpose: str, cost_usd: float, ok: bool) -> None:
        """Record a paid call (durably, before its answer is used)."""
        self._add(stage or "", cost_usd)
        if self.shared is not None:
            self.shared.settle(self._held, cost_usd, f"{purpose} on {model_id}")
            self._held = None
        if self.ledger is None:
            return
        record = {"stage": stage or "", "model": model_id, "purpose": purpose, "cost_usd": cost_usd, "ok": ok}
        append_line(self.ledger, json.dumps(record))
