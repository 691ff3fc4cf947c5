"""The Gemini adapter against a loopback fake of the Gemini API (streamGenerateContent, SSE)."""

from __future__ import annotations

import base64

import pytest
from pydantic import BaseModel

from agentos.errors import ProviderConfigError
from agentos.llm.base import Message, Usage
from agentos.llm.gemini_api import GeminiProvider
from agentos.llm.models import model_info
from agentos.llm.registry import ProviderContext, resolve
from agentos.llm.retry import ContextTooLongError
from agentos.llm.settings import ProviderConfig
from tests.helpers.llm import READ_FILE, ask
from tests.llm.fakes import gemini as fake


class Verdict(BaseModel):
    verdict: str


@pytest.fixture
def server():
    with fake.server() as srv:
        yield srv


def provider(server, waits, key=fake.KEY, **policy):
    return GeminiProvider("gemini:3-pro-preview", model_info("gemini", "3-pro-preview"),
                          ProviderConfig(base_url=server.url), {"GEMINI_API_KEY": key}, waits.policy(**policy))


def test_streamed_text_with_cached_and_thinking_tokens(server, waits):
    server.push(fake.stream("Hello there.", use=fake.usage(prompt=1000, candidates=50, cached=600, thoughts=20)))
    r = provider(server, waits).complete(ask())
    assert r.text == "Hello there." and r.stop_reason == "STOP" and r.request_id == "resp_fake_1"
    assert r.finish == "stop"
    assert r.usage == Usage(input_tokens=400, output_tokens=70, cache_read_tokens=600)
    assert r.cost_usd == pytest.approx((400 * 2 + 70 * 12 + 600 * 0.2) / 1e6)
    request = server.requests[0]
    assert request.path == "/v1/models/gemini-3-pro-preview:streamGenerateContent" and request.query == "alt=sse"
    assert request.body["systemInstruction"]["parts"] == [{"text": "You are careful."}]
    assert request.body["generationConfig"]["maxOutputTokens"] == 8192
    assert request.headers["x-server-timeout"] == "30"  # the call's cap, not the idle limit


def test_long_prompts_are_billed_at_the_long_context_price(server, waits):
    server.push(fake.stream("ok", use=fake.usage(prompt=300_000, candidates=1000)))
    r = provider(server, waits).complete(ask())
    assert r.cost_usd == pytest.approx((300_000 * 4 + 1000 * 18) / 1e6)


def test_structured_output_rides_in_the_prompt_not_in_the_request_config(server, waits):
    server.push(fake.stream('{"verdict": "APPROVED"}'))
    r = provider(server, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "APPROVED"}
    assert "responseJsonSchema" not in server.requests[0].body.get("generationConfig", {})


def test_a_call_that_carries_tools_only_for_the_cache_sends_function_calling_none(server, waits):
    server.push(fake.stream("A draft."))
    provider(server, waits).complete(ask(tools=[READ_FILE], use_tools=False))
    body = server.requests[0].body
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "read_file"


def test_function_calls_keep_their_thought_signature_across_turns(server, waits):
    signature = base64.b64encode(b"\x01opaque-signature").decode()
    server.push(fake.stream("", function_calls=[{"name": "read_file", "args": {"path": "a.py"}, "signature": signature}]))
    p = provider(server, waits)
    first = p.complete(ask(tools=[READ_FILE], purpose="impl.step"))
    [call] = first.tool_calls
    assert call.name == "read_file" and call.arguments == {"path": "a.py"} and first.finish == "tool_calls"
    server.push(fake.stream("Done."))
    history = [Message(role="user", content="fix it"), Message(role="assistant", tool_calls=first.tool_calls),
               Message(role="tool", tool_call_id=call.id, content="print(1)")]
    p.complete(ask(tools=[READ_FILE]).model_copy(update={"messages": history}))
    contents = server.requests[1].body["contents"]
    sent_call = contents[1]["parts"][0]
    assert sent_call["functionCall"] == {"name": "read_file", "args": {"path": "a.py"}}
    assert sent_call["thoughtSignature"] == signature
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {
        "name": "read_file", "response": {"result": "print(1)"}}}]}
    declaration = server.requests[1].body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "read_file"


def test_function_call_ids_from_the_api_go_back_with_the_result(server, waits):
    server.push(fake.stream("", function_calls=[{"name": "read_file", "args": {"path": "b"}, "id": "fc-7"}]))
    p = provider(server, waits)
    [call] = p.complete(ask(tools=[READ_FILE])).tool_calls
    assert call.id == "fc-7"
    server.push(fake.stream("ok"))
    history = [Message(role="user", content="go"), Message(role="assistant", tool_calls=[call]),
               Message(role="tool", tool_call_id="fc-7", content="data")]
    p.complete(ask(tools=[READ_FILE]).model_copy(update={"messages": history}))
    assert server.requests[1].body["contents"][2]["parts"][0]["functionResponse"]["id"] == "fc-7"


def test_resource_exhausted_waits_for_the_retry_delay_it_names(server, waits):
    server.push(fake.error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED", retry_delay="7s"), fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and waits == [7.0]


def test_unavailable_is_retried(server, waits):
    server.push(fake.error(503, "The model is overloaded.", "UNAVAILABLE"), fake.stream("ok"))
    assert provider(server, waits).complete(ask()).text == "ok" and waits == [1.5]


def test_a_rejected_key_is_an_authentication_failure_even_as_400(server, waits):
    with pytest.raises(ProviderConfigError) as info:
        provider(server, waits, key="AIza-wrong-key-000000").complete(ask())
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in info.value.hint and len(server.requests) == 1


def test_context_too_long_names_the_stage(server, waits):
    server.push(fake.error(400, "The input token count (1200000) exceeds the maximum number of tokens allowed "
                                "(1048576).", "INVALID_ARGUMENT"))
    with pytest.raises(ContextTooLongError, match="stage impl"):
        provider(server, waits).complete(ask(purpose="impl.step"))


def test_an_idle_stream_is_cut_and_retried_without_the_sdks_own_continuation(server, waits):
    server.push(fake.stream("first half, then silence", hang_after=1), fake.stream("ok"))
    r = provider(server, waits, idle_timeout_s=1.0).complete(ask())
    assert r.text == "ok" and len(server.requests) == 2 and waits == [1.5]


def test_registry_and_readiness_use_either_key_variable(server, tmp_path):
    ctx = ProviderContext(repo_root=tmp_path, env={"GOOGLE_API_KEY": fake.KEY}, settings={"gemini": {"base_url": server.url}})
    server.push(fake.stream("hi"))
    assert resolve("gemini:3-pro-preview", ctx).complete(ask()).text == "hi"
    assert GeminiProvider.readiness("3-pro-preview", ctx) is None
    assert "unknown model 'pro-9'" in GeminiProvider.readiness("pro-9", ctx)
    missing = GeminiProvider.readiness("3-pro-preview", ProviderContext(repo_root=tmp_path))
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in missing
