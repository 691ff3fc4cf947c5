"""The Anthropic adapter against a loopback fake of the Messages API."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agentos.errors import ProviderConfigError
from agentos.llm.anthropic_api import AnthropicProvider
from agentos.llm.base import Message, Usage
from agentos.llm.models import model_info
from agentos.llm.registry import ProviderContext, resolve
from agentos.llm.retry import ContextTooLongError, ModelCallFailed
from agentos.llm.settings import ProviderConfig
from tests.helpers.llm import READ_FILE, ask
from tests.llm.fakes import anthropic as fake


class Verdict(BaseModel):
    verdict: str
    notes: list[str] = []


@pytest.fixture
def server():
    with fake.server() as srv:
        yield srv


def provider(server, waits, key=fake.KEY, **policy):
    return AnthropicProvider("claude:sonnet-4.6", model_info("claude", "sonnet-4.6"),
                             ProviderConfig(base_url=server.url), {"ANTHROPIC_API_KEY": key}, waits.policy(**policy))


def test_streamed_text_with_cache_usage_cost_and_request_id(server, waits):
    server.push(fake.stream("Hello there.", use=fake.usage(1000, 50, cache_read=2000, cache_write=300)))
    r = provider(server, waits).complete(ask(max_tokens=100_000))
    assert r.text == "Hello there." and r.stop_reason == "end_turn" and r.request_id == "req_fake_1"
    assert r.finish == "stop"
    assert r.usage == Usage(input_tokens=1000, output_tokens=50, cache_read_tokens=2000, cache_write_tokens=300)
    assert r.cost_usd == pytest.approx((1000 * 3 + 50 * 15 + 2000 * 0.3 + 300 * 3.75) / 1e6)
    body = server.requests[0].body
    assert body["stream"] is True and body["model"] == "claude-sonnet-4-6"
    assert body["max_tokens"] == 64_000  # capped at the model's output limit
    # the stable prefix carries cache breakpoints: the system prompt and the first message
    assert body["system"] == [{"type": "text", "text": "You are careful.", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_structured_output_rides_in_the_prompt_not_in_the_cache_key(server, waits):
    server.push(fake.stream('{"verdict": "APPROVED", "notes": ["fine"]}'))
    r = provider(server, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "APPROVED", "notes": ["fine"]}
    assert "output_config" not in server.requests[0].body  # changing it would invalidate the cache


def test_a_call_that_may_not_use_tools_carries_none(server, waits):
    # Anthropic's message cache depends on tool_choice: tools sent with tool_choice none would not
    # share the implementer's cached prefix anyway.
    server.push(fake.stream("A draft."))
    provider(server, waits).complete(ask(tools=[READ_FILE], use_tools=False))
    body = server.requests[0].body
    assert "tools" not in body and "tool_choice" not in body


def test_tool_calls_both_ways(server, waits):
    server.push(fake.stream("Let me look.", tool_uses=[{"id": "toolu_1", "name": "read_file", "input": {"path": "a.py"}}]))
    p = provider(server, waits)
    first = p.complete(ask(tools=[READ_FILE], purpose="impl.step"))
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [("toolu_1", "read_file", {"path": "a.py"})]
    assert first.stop_reason == "tool_use" and first.finish == "tool_calls"
    server.push(fake.stream("Done."))
    history = [Message(role="user", content="fix it"), Message(role="assistant", content=first.text, tool_calls=first.tool_calls),
               Message(role="tool", tool_call_id="toolu_1", content="print(1)")]
    p.complete(ask(tools=[READ_FILE], purpose="impl.step").model_copy(update={"messages": history}))
    body = server.requests[1].body
    assert body["tools"][0] == {"name": "read_file", "description": "Read a file.", "input_schema": READ_FILE.parameters}
    assistant, result = body["messages"][1], body["messages"][2]
    assert assistant["content"][1] == {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.py"}}
    assert result["role"] == "user" and result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == "toolu_1"
    assert result["content"][-1]["cache_control"] == {"type": "ephemeral"}  # a tool loop caches its latest turn


def test_overloaded_529_is_retried_after_the_time_it_asks(server, waits):
    server.push(fake.error(529, "overloaded_error", "Overloaded", {"retry-after": "3"}), fake.stream("ok"))
    r = provider(server, waits).complete(ask())
    assert r.text == "ok" and waits == [3.0] and len(server.requests) == 2


def test_server_errors_back_off_exponentially_then_give_up(server, waits):
    server.push(*[fake.error(500, "api_error", "Internal server error")] * 3)
    with pytest.raises(ModelCallFailed, match=r"failed after 3 attempts \(500\)"):
        provider(server, waits).complete(ask())
    assert waits == [1.5, 3.0] and len(server.requests) == 3  # jitter fixed at 0.5: 3/4 of 2s, 4s


def test_rate_limit_waits_as_told_or_fails_when_that_is_too_long(server, waits):
    server.push(fake.error(429, "rate_limit_error", "slow down", {"retry-after": "7"}), fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and waits == [7.0]
    server.push(fake.error(429, "rate_limit_error", "slow down", {"retry-after": "3600"}))
    with pytest.raises(ModelCallFailed, match="asked to wait 3600s"):
        provider(server, waits).complete(ask())


def test_bad_key_fails_at_once_naming_the_variable(server, waits):
    with pytest.raises(ProviderConfigError) as info:
        provider(server, waits, key="sk-ant-wrong-key-000000").complete(ask())
    assert "(401)" in info.value.message and "ANTHROPIC_API_KEY" in info.value.hint
    assert len(server.requests) == 1 and waits == []


def test_invalid_request_fails_at_once_naming_the_setting(server, waits):
    server.push(fake.error(400, "invalid_request_error", "model: unknown model"))
    with pytest.raises(ProviderConfigError, match="rejected the lld.draft request") as info:
        provider(server, waits).complete(ask())
    assert "providers.anthropic" in info.value.hint and len(server.requests) == 1


def test_context_too_long_names_the_stage(server, waits):
    server.push(fake.error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(ContextTooLongError, match="stage spec: the spec.draft prompt is too long") as info:
        provider(server, waits).complete(ask(purpose="spec.draft"))
    assert "stages.spec.context_tokens" in info.value.hint


def test_an_idle_stream_is_cut_and_retried_and_its_tokens_counted(server, waits):
    server.push(fake.stream("never finished", use=fake.usage(500, 5), hang_after=4), fake.stream("ok", use=fake.usage(500, 5)))
    r = provider(server, waits, idle_timeout_s=1.0).complete(ask())
    assert r.text == "ok" and len(server.requests) == 2 and waits == [1.5]
    # the cut attempt had already been billed for its prompt: it counts in the call's usage
    assert r.usage.input_tokens == 1000


def test_an_error_event_inside_the_stream_is_classified_by_its_type(server, waits):
    broken = fake.stream("partial")
    broken.events = broken.events[:3] + [
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n']
    server.push(broken, fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and len(server.requests) == 2


def test_registry_builds_it_from_config_and_environment(server, tmp_path):
    ctx = ProviderContext(repo_root=tmp_path, env={"ANTHROPIC_API_KEY": fake.KEY},
                          settings={"anthropic": {"base_url": server.url}})
    server.push(fake.stream("hi"))
    p = resolve("claude:sonnet-4.6", ctx)
    assert isinstance(p, AnthropicProvider) and p.complete(ask()).text == "hi"
    assert AnthropicProvider.readiness("sonnet-4.6", ctx) is None
    no_key = ProviderContext(repo_root=ctx.repo_root)
    assert "ANTHROPIC_API_KEY" in AnthropicProvider.readiness("sonnet-4.6", no_key)
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY"):
        resolve("anthropic:sonnet-4.6", no_key).complete(ask())


def _marked(body) -> list[tuple[int, int]]:
    """(turn, block) of every block carrying a cache breakpoint."""
    return [(t, b) for t, turn in enumerate(body["messages"]) for b, block in enumerate(turn["content"])
            if "cache_control" in block]


def test_breakpoints_at_the_end_of_the_shared_prefix_and_of_the_role(server, waits):
    """The run's shared prefix (three user messages, merged into one turn as three blocks), then
    the role, then the changing part: breakpoints after the prefix and after the role."""
    server.push(fake.stream("ok"))
    texts = ["repository and issue", "approved brief", "approved design", "You are a reviewer.", "the draft"]
    request = ask().model_copy(update={"messages": [Message(role="user", content=t) for t in texts],
                                       "cache_after": [2, 3]})
    provider(server, waits).complete(request)
    body = server.requests[0].body
    assert len(body["messages"]) == 1 and [b["text"] for b in body["messages"][0]["content"]] == texts
    assert _marked(body) == [(0, 2), (0, 3)]
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_a_tool_loop_keeps_to_four_breakpoints_the_prefix_and_the_latest(server, waits):
    server.push(fake.stream("ok"))
    call = {"id": "toolu_1", "name": "read_file", "arguments": {"path": "a.py"}}
    history = [Message(role="user", content="prefix"), Message(role="user", content="task"),
               Message(role="assistant", content="", tool_calls=[call]),
               Message(role="tool", tool_call_id="toolu_1", content="print(1)"),
               Message(role="assistant", content="more"), Message(role="user", content="feedback")]
    request = ask(tools=[READ_FILE]).model_copy(update={"messages": history, "cache_after": [0, 1, 3, 4, 5]})
    provider(server, waits).complete(request)
    body = server.requests[0].body
    marked = _marked(body) + [("system", 0)] * ("cache_control" in body["system"][0])
    assert len(marked) == 4  # the API's limit
    assert (0, 0) in marked and (len(body["messages"]) - 1, 0) in marked  # the shared prefix and the latest turn
