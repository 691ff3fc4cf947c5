"""Real adapters inside the real pipeline: the sample repository's orchestrate run with its
drafters on the Anthropic adapter, talking to the loopback fake of the Messages API."""

from __future__ import annotations

import json

import pytest

from agentos import runs
from agentos.errors import BudgetExhausted
from agentos.paths import RepoLayout
from agentos.commands.status import run_status
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.repos import git
from tests.helpers.sample import edit_config, script_replies
from tests.llm.fakes import anthropic as fake


@pytest.fixture
def claude(sample_repo, monkeypatch):
    """The fake Messages API; the key lives only in the sample repository's .env."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    (sample_repo / ".env").write_text(f"ANTHROPIC_API_KEY={fake.KEY}\n")
    with fake.server() as srv:
        edit_config(sample_repo, providers={"anthropic": {"base_url": srv.url, "idle_timeout_s": 10}})
        yield srv


def _run(repo, **kw):
    return orchestrate(RunOptions(issue=1, repo=repo, plain=True, **kw))


def _journal(repo) -> list[dict]:
    return [json.loads(line) for path in sorted((repo / ".agentos" / "runs").glob("*/calls.jsonl"))
            for line in path.read_text().splitlines()]


def _text(repo, name: str, purpose: str) -> str:
    reply = script_replies(repo, name, purpose)[0]
    return reply.get("text") or json.dumps(reply["data"])


def test_triage_drafted_by_the_anthropic_adapter_inside_the_pipeline(sample_repo, claude):
    brief = _text(sample_repo, "drafter", "triage.draft")
    claude.push(fake.stream(brief, use=fake.usage(2000, 400, cache_read=0, cache_write=1500)))
    edit_config(sample_repo, stages={"triage": {"drafter": "anthropic:sonnet-4.6"}})

    result = _run(sample_repo)

    assert result.exit_code == 0, result.message
    [request] = claude.requests
    assert request.body["model"] == "claude-sonnet-4-6" and request.body["stream"] is True
    assert request.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert request.headers["authorization"] == f"Bearer {fake.KEY}"  # read from the repository's .env
    on_branch = git(sample_repo, "show", "agentos/issue-1:docs/agentos/issue-1/brief.md")
    assert brief.splitlines()[0] in on_branch
    [call] = [c for c in _journal(sample_repo) if c["purpose"] == "triage.draft"]
    expected = (2000 * 3 + 400 * 15 + 1500 * 3.75) / 1e6
    assert call["response"]["request_id"] == "req_fake_1" and call["response"]["cost_usd"] == pytest.approx(expected)
    assert call["response"]["usage"]["cache_write_tokens"] == 1500
    status = run_status(sample_repo, 1)
    assert status.stages[0].name == "triage" and status.stages[0].cost_usd == pytest.approx(expected)
    assert status.summary.cost_usd == pytest.approx(expected)
    run_dir = RepoLayout(sample_repo).run_dir(result.run_id)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    [paid] = [e for e in events if e["kind"] == "model_call" and e["purpose"] == "triage.draft"]
    assert paid["cost_usd"] == pytest.approx(expected) and paid["data"]["cache_write_tokens"] == 1500
    for name in ("calls.jsonl", "events.jsonl", "spend.jsonl", "scripted-calls.jsonl"):
        assert fake.KEY not in (run_dir / name).read_text()


def test_budget_pauses_before_the_call_that_could_cross_it_and_resumes_when_raised(sample_repo, claude):
    edit_config(sample_repo, budget_usd=0.27,
                stages={"triage": {"drafter": "anthropic:sonnet-4.6"}, "lld": {"drafter": "anthropic:sonnet-4.6"}})
    each = fake.usage(1000, 6000)  # $0.093 a call; each reservation ~$0.13 (8192 tokens at $15/M + prompt)
    claude.push(fake.stream(_text(sample_repo, "drafter", "triage.draft"), use=each),
                fake.stream(_text(sample_repo, "drafter", "lld.draft"), use=each),
                fake.stream(_text(sample_repo, "drafter", "lld.revise"), use=each))

    with pytest.raises(BudgetExhausted) as paused:
        _run(sample_repo)

    assert "paused before calling" in paused.value.message and "lld.revise" in paused.value.message
    assert "--set budget_usd=" in paused.value.hint
    assert len(claude.requests) == 2  # triage.draft and lld.draft were paid; lld.revise never called
    layout = RepoLayout(sample_repo)
    record = runs.latest(layout, 1)
    assert record.status == "budget"
    spend = [json.loads(line) for line in (layout.run_dir(record.run_id) / "spend.jsonl").read_text().splitlines()]
    assert sum(s["cost_usd"] for s in spend) == pytest.approx(0.186)

    resumed = _run(sample_repo, sets=["budget_usd=1"])

    assert resumed.exit_code == 0, resumed.message
    assert resumed.run_id == record.run_id  # the same run continued
    assert len(claude.requests) == 3  # lld.revise, and nothing paid twice
    assert "matches this JSON Schema" in json.dumps(claude.requests[2].body["messages"][-1])  # structured output
    assert run_status(sample_repo, 1).summary.cost_usd == pytest.approx(0.279)


def test_provider_down_after_its_retries_stops_resumably_without_rerunning_the_stage(sample_repo, claude):
    from agentos.llm.retry import ModelCallFailed

    edit_config(sample_repo, stages={"triage": {"drafter": "anthropic:sonnet-4.6"}},
                providers={"anthropic": {"base_url": claude.url, "max_attempts": 2, "max_retry_wait_s": 0}})
    claude.push(fake.error(529, "overloaded_error", "Overloaded"), fake.error(529, "overloaded_error", "Overloaded"))
    with pytest.raises(ModelCallFailed) as failed:
        _run(sample_repo)
    assert "after 2 attempts" in str(failed.value) and "run the same command again" in str(failed.value)
    assert len(claude.requests) == 2  # the provider layer's retries only; the stage was not re-run
    assert runs.latest(RepoLayout(sample_repo), 1).status == "failed"

    claude.push(fake.stream(_text(sample_repo, "drafter", "triage.draft"), use=fake.usage(100, 50)))
    result = _run(sample_repo)
    assert result.exit_code == 0, result.message
    assert len(claude.requests) == 3
    assert result.state["stage_attempts"]["triage"] == 1


def test_a_truncated_draft_is_asked_again_with_more_room_and_a_refusal_stops_resumably(sample_repo, claude):
    from agentos.llm.answers import ModelRefusal

    edit_config(sample_repo, stages={"triage": {"drafter": "anthropic:sonnet-4.6"}})
    brief = _text(sample_repo, "drafter", "triage.draft")
    claude.push(fake.stream("I can't help with this issue.", stop_reason="refusal"))
    with pytest.raises(ModelRefusal, match="refused to answer triage.draft: I can't help with this issue."):
        _run(sample_repo)
    assert runs.latest(RepoLayout(sample_repo), 1).status == "failed"
    assert [c["purpose"] for c in _journal(sample_repo)] == []  # the refusal was charged, never journalled

    claude.push(fake.stream(brief[: len(brief) // 2], stop_reason="max_tokens"), fake.stream(brief))
    result = _run(sample_repo)
    assert result.exit_code == 0, result.message
    assert [r.body["max_tokens"] for r in claude.requests[1:]] == [8192, 16384]
    on_branch = git(sample_repo, "show", "agentos/issue-1:docs/agentos/issue-1/brief.md")
    assert brief.strip().splitlines()[-1] in on_branch  # the whole brief, not the half that was cut off
