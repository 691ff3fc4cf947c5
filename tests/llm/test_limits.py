"""The limits a batch's workers share (one SQLite file, one handle per process): the budget's
reservations, provider slots, per-minute rates and 429 pauses."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

from agentos.errors import BudgetExhausted
from agentos.llm.budget import Budget
from agentos.llm.limits import SharedLimits
from tests.helpers.llm import ask


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.real_component)])
def where(request, tmp_path):
    """The batch's limits: in a SQLite file (the local pool), or in a schema of a real PostgreSQL (Ray)."""
    if request.param == "sqlite":
        return tmp_path / "limits.db"
    server = request.getfixturevalue("postgres")
    schema = f"limits_{uuid.uuid4().hex[:10]}"
    server.sql(f"CREATE SCHEMA {schema}")
    return f"{server.url()}?options=-csearch_path%3D{schema}"


def test_reservations_of_all_holders_count_against_the_batch_cap(where):
    path = where
    SharedLimits.create(path, 1.0, {}).close()
    one, two = SharedLimits(path), SharedLimits(path)
    held = one.reserve(0.6, "a")
    with pytest.raises(BudgetExhausted) as caught:
        two.reserve(0.6, "b")  # 0.6 held by the other worker + 0.6 > 1.0
    assert "--budget-usd" in caught.value.hint
    one.settle(held, 0.1, "a")
    two.settle(two.reserve(0.6, "b"), 0.5, "b")
    assert one.spent() == pytest.approx(0.6)


def test_a_budget_charges_its_reservation_and_a_new_batch_keeps_what_was_spent(where):
    path = where
    SharedLimits.create(path, 0.05, {}).close()
    budget = Budget(shared=SharedLimits(path))
    budget.reserve("lld", "scripted:x", ask())  # unpriced: reserves nothing
    budget.charge("lld", "scripted:x", "lld.draft", 0.04, ok=True)
    budget.reserve("lld", "scripted:x", ask())
    budget.charge("lld", "scripted:x", "lld.review", 0.04, ok=True)  # over by one call, as documented
    resumed = SharedLimits.create(path, 0.05, {})
    assert resumed.spent() == pytest.approx(0.08)
    with pytest.raises(BudgetExhausted):
        Budget(shared=resumed).reserve("lld", "scripted:x", ask())


def test_slots_hold_the_provider_to_its_concurrency(where):
    path = where
    SharedLimits.create(path, None, {"anthropic": (2, None)}).close()
    a, b, c = (SharedLimits(path) for _ in range(3))
    with a.slot("anthropic"), b.slot("anthropic"):
        assert c._try_acquire("anthropic") == pytest.approx(0.05)  # a wait, not a slot
        assert isinstance(c._try_acquire("gemini"), int)  # other providers are not held up
    assert isinstance(c._try_acquire("anthropic"), int)


def test_per_minute_rate_is_shared(where):
    path = where
    now = [1000.0]
    SharedLimits.create(path, None, {"openai": (10, 2)}).close()
    a, b = (SharedLimits(path, clock=lambda: now[0]) for _ in range(2))
    with a.slot("openai"):
        pass
    with b.slot("openai"):
        pass
    assert a._try_acquire("openai") == pytest.approx(60.0)
    now[0] += 61
    assert isinstance(b._try_acquire("openai"), int)


def test_one_workers_429_pauses_the_provider_for_every_worker(where):
    path = where
    now = [1000.0]
    SharedLimits.create(path, None, {}).close()
    a, b = (SharedLimits(path, clock=lambda: now[0]) for _ in range(2))
    a.slow_down("gemini", 5.0)
    assert b._try_acquire("gemini") == pytest.approx(5.0)
    now[0] += 5.1
    assert isinstance(b._try_acquire("gemini"), int)


def _hold_slot(where, started, release) -> None:
    limits = SharedLimits(where)
    with limits.slot("anthropic"):
        started.set()
        release.wait(30)


def test_a_dead_workers_slot_is_released(where):
    path = where
    SharedLimits.create(path, None, {"anthropic": (1, None)}).close()
    ctx = multiprocessing.get_context("spawn")
    started, release = ctx.Event(), ctx.Event()
    worker = ctx.Process(target=_hold_slot, args=(path, started, release))
    worker.start()
    assert started.wait(60)
    other = SharedLimits(path)
    assert not isinstance(other._try_acquire("anthropic"), int)
    worker.kill()
    worker.join()
    assert isinstance(other._try_acquire("anthropic"), int)
