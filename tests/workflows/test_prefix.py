"""Every model call of a run starts with the run's shared prefix, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from agentos.demo import run_demo
from agentos.workflows.prefix import DOC_TITLES, SYSTEM


def _calls(repo: Path) -> list[dict]:
    [log] = (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def _prefix(call: dict) -> list[str]:
    """The call's messages up to and including the first breakpoint (the end of the shared prefix)."""
    return [m.get("content", "") for m in call["messages"][:call["cache_after"][0] + 1]]


def test_every_call_of_a_run_starts_with_the_shared_prefix(tmp_path):
    run_demo(tmp_path / "demo", plain=True)
    calls = _calls(tmp_path / "demo")
    stages = {c["purpose"].split(".")[0] for c in calls}
    assert {"triage", "lld", "spec", "impl"} <= stages and len(calls) >= 10

    assert {c["system"] for c in calls} == {SYSTEM}  # no role before the shared part
    first = {_prefix(c)[0] for c in calls}
    assert len(first) == 1 and '<data name="repository">' in next(iter(first)) and '<data name="issue #1">' in next(iter(first))

    # Each stage's prefix holds the documents approved before it, in stage order, so a later
    # stage's prefix extends an earlier one's.
    expected = {"triage": 0, "lld": 1, "spec": 2, "impl": 3, "review": 3}
    by_stage = {}
    for call in calls:
        stage = call["purpose"].split(".")[0]
        prefix = _prefix(call)
        assert len(prefix) == 1 + expected[stage], call["purpose"]
        assert by_stage.setdefault(stage, prefix) == prefix, f"{call['purpose']} differs from its stage's prefix"
    assert by_stage["review"] == by_stage["impl"]  # the code review reads what the implementer read
    titles = list(DOC_TITLES.values())
    for later, earlier in (("lld", "triage"), ("spec", "lld"), ("impl", "spec")):
        assert by_stage[later][:len(by_stage[earlier])] == by_stage[earlier]
        assert f'<data name="{titles[expected[later] - 1]}">' in by_stage[later][-1]

    # What differs (the role, the task) comes after the prefix, and is marked for caching too.
    for call in calls:
        shared = call["cache_after"][0]
        assert call["cache_after"][1] == shared + 1
        assert call["messages"][shared + 1]["content"].startswith("You are ")


def test_the_repository_context_is_chosen_once_per_run(tmp_path):
    run_demo(tmp_path / "demo", plain=True)
    [saved] = (tmp_path / "demo" / ".agentos" / "runs").glob("*/repository-context.md")
    first = _calls(tmp_path / "demo")[0]["messages"][0]["content"]
    assert saved.read_text(encoding="utf-8") in first
