"""Budget caps: the worst case reserved before every paid call, the spend ledger, and the
ModelClient checking before a journal miss is paid (and charging failed calls)."""

from __future__ import annotations

import json

import pytest

from agentos.config import OrchestratorConfig
from agentos.errors import BudgetExhausted, ModelCallError
from agentos.llm.base import Response, Usage
from agentos.llm.budget import Budget, estimate_input_tokens, worst_case_usd
from agentos.llm.client import ModelClient
from agentos.llm.journal import CallJournal
from agentos.llm.models import price_for
from agentos.llm.retry import ModelCallFailed
from agentos.workflows.orchestrator.config import stage_caps
from tests.helpers.llm import ask


class PricedModel:
    """A provider for claude:opus-4.5 whose answers cost what the test says (no network)."""

    model_id = "claude:opus-4.5"

    def __init__(self, cost=0.05, fail: Exception | None = None):
        self.cost, self.fail, self.calls = cost, fail, 0

    def complete(self, request):
        self.calls += 1
        if self.fail:
            raise self.fail
        return Response(text="ok", usage=Usage(input_tokens=10, output_tokens=10), cost_usd=self.cost)


def test_worst_case_is_the_whole_max_tokens_at_the_output_price_plus_the_prompt():
    request = ask("x" * 3000, max_tokens=1000)
    price = price_for("claude:opus-4.5")
    tokens = estimate_input_tokens(request)
    assert tokens >= 1000  # generous: 3 characters a token
    assert worst_case_usd(request, price) == pytest.approx((tokens * 6.25 + 1000 * 25) / 1e6)
    assert worst_case_usd(request, None) == 0.0


def test_a_call_that_could_cross_the_run_cap_is_refused_before_it_is_made(tmp_path):
    budget = Budget(tmp_path / "spend.jsonl", run_cap=0.30)
    model = PricedModel(cost=0.10)
    client = ModelClient(model, CallJournal(tmp_path / "calls.jsonl"), stage="lld", budget=budget)
    client.complete(ask("one", max_tokens=4000))  # worst case ~$0.10 + prompt: fits
    client.complete(ask("two", max_tokens=4000))
    with pytest.raises(BudgetExhausted) as info:
        client.complete(ask("three", max_tokens=4000))
    assert model.calls == 2 and budget.spent() == pytest.approx(0.20)
    assert "--set budget_usd=" in info.value.hint and info.value.exit_code == 5
    assert "spent $0.2000 of its $0.30 cap" in info.value.message


def test_a_replayed_call_is_free_and_not_checked(tmp_path):
    journal = CallJournal(tmp_path / "calls.jsonl")
    ModelClient(PricedModel(), journal, stage="spec", budget=Budget()).complete(ask("same"))
    tight = Budget(run_cap=0.0001)
    again = PricedModel()
    assert ModelClient(again, journal, stage="spec", budget=tight).complete(ask("same")).text == "ok"
    assert again.calls == 0 and tight.spent() == 0.0


def test_stage_caps_name_their_config_key(tmp_path):
    config = OrchestratorConfig.model_validate({"stages": {"implementation": {"budget_usd": 0.05}}})
    budget = Budget(tmp_path / "spend.jsonl", config.budget_usd, stage_caps(config))
    ModelClient(PricedModel(), stage="lld", budget=budget).complete(ask(max_tokens=1000))  # other stages: no cap
    with pytest.raises(BudgetExhausted, match="stage impl") as info:
        ModelClient(PricedModel(), stage="impl", budget=budget).complete(ask(max_tokens=4000))
    assert "--set stages.implementation.budget_usd=" in info.value.hint


def test_failed_calls_are_charged_and_the_ledger_survives_a_restart(tmp_path):
    ledger = tmp_path / "spend.jsonl"
    failing = PricedModel(fail=ModelCallFailed("gave up", cost_usd=0.02))
    with pytest.raises(ModelCallError):
        ModelClient(failing, stage="triage", budget=Budget(ledger)).complete(ask())
    ModelClient(PricedModel(cost=0.05), stage="triage", budget=Budget(ledger)).complete(ask())
    with ledger.open("a") as fh:
        fh.write('{"stage": "triage", "cost')  # a line cut short by a kill
    reloaded = Budget(ledger)
    assert reloaded.spent("triage") == pytest.approx(0.07)
    records = [json.loads(line) for line in ledger.read_text().splitlines()[:2]]
    assert [r["ok"] for r in records] == [False, True]
    reloaded.charge("triage", "m", "triage.draft", 0.01, True)  # a resumed run's next call
    assert Budget(ledger).spent("triage") == pytest.approx(0.08)
    assert json.loads(ledger.read_text().splitlines()[-1])["cost_usd"] == 0.01


def test_unparseable_answers_count_like_any_other(tmp_path):
    from pydantic import BaseModel

    class Verdict(BaseModel):
        verdict: str

    budget = Budget()
    model = PricedModel(cost=0.01)  # answers "ok": not JSON, twice
    with pytest.raises(ModelCallError):
        ModelClient(model, stage="lld", budget=budget).structured(ask(), Verdict)
    assert model.calls == 2 and budget.spent() == pytest.approx(0.02)
