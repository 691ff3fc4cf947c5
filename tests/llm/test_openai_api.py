"""The OpenAI adapter (and Ollama, vLLM, other compatible servers) against a loopback fake of
the Chat Completions API."""

from __future__ import annotations

import pytest

from agentos.errors import ProviderConfigError
from agentos.llm.base import Message, Usage
from agentos.llm.models import model_info
from agentos.llm.openai_api import OllamaProvider, OpenAICompatibleProvider, OpenAIProvider, VllmProvider, strict
from agentos.llm.registry import ProviderContext, resolve
from agentos.llm.retry import ContextTooLongError, ModelCallFailed
from agentos.llm.settings import ProviderConfig
from tests.helpers.llm import READ_FILE, Verdict, ask
from tests.llm.fakes import openai as fake


@pytest.fixture
def server():
    with fake.server() as srv:
        yield srv


def provider(server, waits, key=fake.KEY, **policy):
    return OpenAIProvider("openai:gpt-5", model_info("openai", "gpt-5"), ProviderConfig(base_url=server.url + "/v1"),
                          {"OPENAI_API_KEY": key}, waits.policy(**policy))


def test_cache_writes_are_counted_apart_and_calls_sharing_a_prefix_share_a_cache_key(server, waits):
    server.push(fake.stream("one", use=fake.usage(prompt=3000, completion=10, cached=0, written=2500)))
    server.push(fake.stream("two", use=fake.usage(prompt=3100, completion=10, cached=2500, written=0)))
    p = provider(server, waits)
    shared = [Message(role="user", content="the repository and the issue")]
    first = p.complete(ask().model_copy(update={"messages": [*shared, Message(role="user", content="Draft it.")]}))
    second = p.complete(ask(purpose="lld.review").model_copy(
        update={"messages": [*shared, Message(role="user", content="Review it.")]}))
    assert first.usage == Usage(input_tokens=500, output_tokens=10, cache_write_tokens=2500)
    assert second.usage == Usage(input_tokens=600, output_tokens=10, cache_read_tokens=2500)
    keys = {r.body["prompt_cache_key"] for r in server.requests}
    assert len(keys) == 1  # one run's calls are routed to the same cache


def test_streamed_text_with_cached_tokens_cost_and_request_id(server, waits):
    server.push(fake.stream("Hello there.", use=fake.usage(prompt=1000, completion=50, cached=600)))
    r = provider(server, waits).complete(ask())
    assert r.text == "Hello there." and r.stop_reason == "stop" and r.request_id == "req_fake_1"
    assert r.finish == "stop"
    assert r.usage == Usage(input_tokens=400, output_tokens=50, cache_read_tokens=600)
    assert r.cost_usd == pytest.approx((400 * 1.25 + 50 * 10 + 600 * 0.125) / 1e6)
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "You are careful."}
    assert body["max_completion_tokens"] == 8192 and len(body["prompt_cache_key"]) == 32


def test_structured_output_rides_in_the_prompt_not_in_the_cache_key(server, waits):
    # OpenAI puts response_format's schema before the system message in its cache key: a review
    # would share no cached prefix with a draft. The schema is in the prompt (ModelClient.structured).
    server.push(fake.stream('{"verdict": "REVISE", "findings": [{"id": "F1", "note": ""}]}'))
    r = provider(server, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "REVISE", "findings": [{"id": "F1", "note": ""}]}
    assert "response_format" not in server.requests[0].body


def test_a_call_that_carries_tools_only_for_the_cache_sends_tool_choice_none(server, waits):
    server.push(fake.stream("A draft."))
    provider(server, waits).complete(ask(tools=[READ_FILE], use_tools=False))
    body = server.requests[0].body
    assert body["tool_choice"] == "none" and body["tools"][0]["function"]["name"] == "read_file"
    server.push(fake.stream("Step."))
    provider(server, waits).complete(ask(tools=[READ_FILE]))
    assert "tool_choice" not in server.requests[1].body
    assert server.requests[0].body["tools"] == server.requests[1].body["tools"]


def test_strict_form_closes_objects_by_keyword_not_by_property_name():
    schema = {"type": "object", "properties": {"default": {"type": "string", "default": "x"},
                                               "items": {"type": "array", "items": {"type": "object", "properties": {}}}}}
    out = strict(schema)
    assert set(out["properties"]) == {"default", "items"} and "default" not in out["properties"]["default"]
    assert out["properties"]["items"]["items"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's schema is left alone


def test_tool_calls_both_ways(server, waits):
    server.push(fake.stream("", tool_calls=[{"id": "call_9", "name": "read_file", "arguments": {"path": "a.py"}}]))
    p = provider(server, waits)
    first = p.complete(ask(tools=[READ_FILE], purpose="impl.step"))
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [("call_9", "read_file", {"path": "a.py"})]
    assert first.stop_reason == "tool_calls" and first.finish == "tool_calls"
    server.push(fake.stream("Done."))
    history = [Message(role="user", content="fix it"), Message(role="assistant", tool_calls=first.tool_calls),
               Message(role="tool", tool_call_id="call_9", content="print(1)")]
    p.complete(ask(tools=[READ_FILE]).model_copy(update={"messages": history}))
    body = server.requests[1].body
    assert body["tools"] == [{"type": "function", "function": {"name": "read_file", "description": "Read a file.",
                                                              "parameters": READ_FILE.parameters}}]
    call = body["messages"][2]["tool_calls"][0]
    assert call == {"id": "call_9", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_9", "content": "print(1)"}


def test_malformed_tool_arguments_reach_the_tool_as_such(server, waits):
    server.push(fake.stream("", tool_calls=[{"id": "c", "name": "read_file", "arguments": '{"path": '}]))
    [call] = provider(server, waits).complete(ask(tools=[READ_FILE])).tool_calls
    assert "_unparsed_arguments" in call.arguments


def test_rate_limit_honours_retry_after_ms(server, waits):
    server.push(fake.error(429, "Rate limit reached", "rate_limit_exceeded", headers={"retry-after-ms": "1500"}),
                fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and waits == [1.5]


def test_server_error_is_retried(server, waits):
    server.push(fake.error(503, "The server is overloaded", kind="server_error"), fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and waits == [1.5]


def test_bad_key_fails_at_once_naming_the_variable(server, waits):
    with pytest.raises(ProviderConfigError) as info:
        provider(server, waits, key="sk-wrong-0000000000").complete(ask())
    assert "(401)" in info.value.message and "OPENAI_API_KEY" in info.value.hint and len(server.requests) == 1


def test_context_too_long_names_the_stage(server, waits):
    server.push(fake.error(400, "This model's maximum context length is 400000 tokens.", "context_length_exceeded"))
    with pytest.raises(ContextTooLongError, match="stage lld"):
        provider(server, waits).complete(ask())
    assert len(server.requests) == 1


@pytest.mark.slow  # waits out a timeout
def test_an_idle_stream_is_cut_and_retried_until_attempts_run_out(server, waits):
    server.push(*[fake.stream("never", hang_after=2)] * 2)
    with pytest.raises(ModelCallFailed, match=r"after 2 attempts") as info:
        provider(server, waits, max_attempts=2, idle_timeout_s=1.0).complete(ask())
    assert "sent nothing for 1s" in info.value.message and len(server.requests) == 2
    assert info.value.cost_usd > 0  # the cut attempts had started answering: their prompt counts


def test_the_wall_clock_cap_stops_a_stream_that_never_ends(server, waits):
    slow = fake.stream("x" * 50)
    slow.events = slow.events[:1] + [slow.events[1]] * 400 + slow.events[-3:]
    clock = iter(range(10_000))
    server.push(slow)
    with pytest.raises(ModelCallFailed, match="no complete answer within 30s") as info:
        provider(server, waits, clock=lambda: float(next(clock))).complete(ask())
    assert "timeout_s" in info.value.hint


def test_local_servers_need_no_key_and_default_to_their_usual_port(tmp_path):
    with fake.server(key=None) as srv:
        srv.push(fake.stream("local answer"))
        ctx = ProviderContext(repo_root=tmp_path, settings={"ollama": {"base_url": srv.url + "/v1"}})
        p = resolve("ollama:llama3.1:8b", ctx)
        r = p.complete(ask())
        assert r.text == "local answer" and r.cost_usd == 0.0
        body, auth = srv.requests[0].body, srv.requests[0].headers["authorization"]
        assert body["model"] == "llama3.1:8b" and body["max_tokens"] == 8192 and "response_format" not in body
        assert auth == "Bearer ollama" and "prompt_cache_key" not in body
    assert OllamaProvider.readiness("qwen3", ProviderContext(repo_root=tmp_path)) is None
    assert VllmProvider.default_base_url == "http://localhost:8000/v1"


def test_an_openai_compatible_server_needs_a_base_url_and_may_name_its_key_variable(tmp_path):
    bare = ProviderContext(repo_root=tmp_path)
    assert "providers.openai-compatible.base_url" in OpenAICompatibleProvider.readiness("m", bare)
    with fake.server(key="gw-key-123456789") as srv:
        ctx = ProviderContext(repo_root=tmp_path, env={"GATEWAY_KEY": "gw-key-123456789"},
                              settings={"openai-compatible": {"base_url": srv.url + "/v1", "api_key_env": "GATEWAY_KEY"}})
        srv.push(fake.stream("via gateway"))
        assert resolve("openai-compatible:some/model", ctx).complete(ask(output_schema=Verdict.model_json_schema())).text
        # A local server applies response_format as constrained decoding, outside the prompt tokens
        # its cache keys on: it still gets it (plain, as strict support varies).
        fmt = srv.requests[0].body["response_format"]["json_schema"]
        assert fmt["strict"] is False and "additionalProperties" not in fmt["schema"]
    assert "GATEWAY_KEY" in OpenAICompatibleProvider.readiness("m", ProviderContext(
        repo_root=tmp_path, settings={"openai-compatible": {"base_url": "http://x/v1", "api_key_env": "GATEWAY_KEY"}}))


def test_ollama_gets_no_tools_it_may_not_use(waits):
    # Ollama ignores tool_choice: a draft carrying tools could come back as a tool call.
    with fake.server() as srv:
        srv.push(fake.stream("A draft."))
        ollama = OllamaProvider("ollama:qwen3", model_info("ollama", "qwen3"),
                                ProviderConfig(base_url=srv.url + "/v1", api_key_env="K"), {"K": fake.KEY}, waits.policy())
        ollama.complete(ask(tools=[READ_FILE], use_tools=False))
        assert "tools" not in srv.requests[0].body and "tool_choice" not in srv.requests[0].body
