"""Answers as real models give them, through the model client and each provider's loopback fake:
JSON in prose or fences, truncation (retried once with more room), refusals, oversize answers."""

from __future__ import annotations

import json

import pytest

from agentos.errors import ModelOutputError
from agentos.llm.anthropic_api import AnthropicProvider
from agentos.llm.answers import AnswerTooLong, AnswerTruncated, ModelRefusal, parse
from agentos.llm.base import Response
from agentos.llm.budget import Budget
from agentos.llm.client import ModelClient
from agentos.llm.gemini_api import GeminiProvider
from agentos.llm.journal import CallJournal
from agentos.llm.models import model_info
from agentos.llm.openai_api import OpenAICompatibleProvider, OpenAIProvider
from agentos.llm.settings import ProviderConfig
from agentos.progress.events import MemorySink, Progress
from tests.helpers.llm import READ_FILE, Finding, Verdict, ask
from tests.llm.fakes import anthropic, gemini, openai


def _anthropic(srv, waits, **settings):
    return AnthropicProvider("claude:sonnet-4.6", model_info("claude", "sonnet-4.6"),
                             ProviderConfig(base_url=srv.url, **settings), {"ANTHROPIC_API_KEY": anthropic.KEY},
                             waits.policy())


def _openai(srv, waits, **settings):
    return OpenAIProvider("openai:gpt-5", model_info("openai", "gpt-5"),
                          ProviderConfig(base_url=srv.url + "/v1", **settings), {"OPENAI_API_KEY": openai.KEY},
                          waits.policy())


def _compatible(srv, waits, **settings):
    return OpenAICompatibleProvider("openai-compatible:local/coder", model_info("openai-compatible", "local/coder"),
                                    ProviderConfig(base_url=srv.url + "/v1", api_key_env="GW_KEY", **settings),
                                    {"GW_KEY": openai.KEY}, waits.policy())


def _gemini(srv, waits, **settings):
    return GeminiProvider("gemini:3-pro-preview", model_info("gemini", "3-pro-preview"),
                          ProviderConfig(base_url=srv.url, **settings), {"GEMINI_API_KEY": gemini.KEY}, waits.policy())


PROVIDERS = {
    "anthropic": (anthropic, _anthropic, lambda body: body["max_tokens"]),
    "openai": (openai, _openai, lambda body: body["max_completion_tokens"]),
    "openai-compatible": (openai, _compatible, lambda body: body["max_tokens"]),
    "gemini": (gemini, _gemini, lambda body: body["generationConfig"]["maxOutputTokens"]),
}
CUT = {"anthropic": lambda text: anthropic.stream(text, stop_reason="max_tokens"),
       "openai": lambda text: openai.stream(text, finish="length"),
       "openai-compatible": lambda text: openai.stream(text, finish="length"),
       "gemini": lambda text: gemini.stream(text, finish="MAX_TOKENS")}


@pytest.fixture(params=list(PROVIDERS))
def setup(request, waits, tmp_path):
    """(server, make_client(**provider settings), max-tokens-of-a-request-body) for one provider."""
    module, build, sent_max = PROVIDERS[request.param]
    with module.server() as srv:
        def client(**settings):
            return ModelClient(build(srv, waits, **settings), CallJournal(tmp_path / "calls.jsonl"),
                               budget=Budget(tmp_path / "spend.jsonl"), stage="lld")
        yield request.param, srv, client, sent_max


def _ledger(tmp_path):
    return [json.loads(line) for line in (tmp_path / "spend.jsonl").read_text().splitlines()]


def _journalled(tmp_path):
    path = tmp_path / "calls.jsonl"
    return [json.loads(line)["purpose"] for line in path.read_text().splitlines()] if path.exists() else []


# -- structured answers as models write them ------------------------------------------------------

@pytest.mark.parametrize("text", [
    'Here is my review.\n```json\n{"verdict": "REVISE", "findings": [{"id": "F1"}]}\n```\nLet me know!',
    'I checked every section. {"verdict": "REVISE", "findings": [{"id": "F1"}]} That is all.',
    'An example of the format: ```json\n{"verdict": 3}\n```\nMy answer:\n```\n{"verdict": "REVISE", '
    '"findings": [{"id": "F1", "note": ""}]}\n```',
    'Findings like ```{"id": "F0"}``` are listed. ```json\n{"verdict": "REVISE", "findings": [{"id": "F1"}]}\n```',
])
def test_json_in_prose_or_fences_is_found_without_a_retry(text, waits):
    with openai.server() as srv:
        srv.push(openai.stream(text))
        verdict, _ = ModelClient(_openai(srv, waits)).structured(ask(), Verdict)
        assert verdict == Verdict(verdict="REVISE", findings=[Finding(id="F1")]) and len(srv.requests) == 1


@pytest.mark.parametrize("text,error", [
    ("I could not decide.", "holds no JSON object"),
    ('```json\n{"verdict": "REVISE", "findings": [{"id": "F1", "note": "x"}]}\n``` or maybe '
     '```json\n{"verdict": "APPROVED"}\n```', "2 different JSON objects"),
    ('Almost: {"verdict": "REVISE", "findings": [{"id": "F1"}], "score": 3}', "not the schema's"),
    # cut short: the object inside it is not taken for the answer
    ('{"verdict": "REVISE", "findings": [{"note": "no id"}]', "not the schema's"),
])
def test_an_answer_without_one_valid_object_is_quoted_back_once_then_fails(text, error, waits):
    with openai.server() as srv:
        srv.push(openai.stream(text), openai.stream(text))
        with pytest.raises(ModelOutputError, match="twice") as info:
            ModelClient(_openai(srv, waits)).structured(ask(), Verdict)
        assert error in info.value.message and len(srv.requests) == 2
        assert error in srv.requests[1].body["messages"][-1]["content"]


# -- truncation --------------------------------------------------------------------------------------

def test_a_truncated_answer_is_asked_again_with_twice_the_room(setup, tmp_path):
    name, srv, client, sent_max = setup
    srv.push(CUT[name]('{"verdict": "REV'), PROVIDERS[name][0].stream('{"verdict": "REVISE"}'))
    c = client() if name != "openai-compatible" else client(max_output_tokens=32_000)
    verdict, response = c.structured(ask(max_tokens=4000), Verdict)
    assert verdict.verdict == "REVISE" and response.finish == "stop"
    assert [sent_max(r.body) for r in srv.requests] == [4000, 8000]
    assert _journalled(tmp_path) == ["lld.draft", "lld.draft.longer"]
    assert [(e["purpose"], e["ok"]) for e in _ledger(tmp_path)] == [("lld.draft", False), ("lld.draft.longer", True)]


def test_a_truncated_answer_at_the_models_limit_is_named_with_the_setting_that_raises_it(waits, tmp_path):
    with openai.server() as srv:
        srv.push(openai.stream("# Design\n\nThe first part of a long", finish="length"))
        with pytest.raises(AnswerTruncated) as info:
            ModelClient(_compatible(srv, waits)).complete(ask())
        assert "cut off at 8,192 tokens" in info.value.message and "JSON" not in info.value.message
        assert "providers.openai-compatible.max_output_tokens" in info.value.hint and len(srv.requests) == 1


def test_a_retry_is_capped_at_the_models_limit_and_a_second_cut_fails(waits):
    with anthropic.server() as srv:
        srv.push(anthropic.stream("part", stop_reason="max_tokens"), anthropic.stream("more", stop_reason="max_tokens"))
        with pytest.raises(AnswerTruncated, match="cut off at 64,000 tokens even after a retry") as info:
            ModelClient(_anthropic(srv, waits)).complete(ask(max_tokens=40_000))
        assert [r.body["max_tokens"] for r in srv.requests] == [40_000, 64_000]
        assert "use a model with a larger output limit" in info.value.hint


def test_a_resumed_run_replays_the_truncated_answer_and_its_retry_without_paying(waits, tmp_path):
    with openai.server() as srv:
        srv.push(openai.stream("cut", finish="length"), openai.stream("whole answer"))
        sink = MemorySink()
        first = ModelClient(_openai(srv, waits), CallJournal(tmp_path / "calls.jsonl"), Progress("r", [sink]))
        assert first.complete(ask()).text == "whole answer"
        assert [(e.purpose, e.data["finish"]) for e in sink.events] == [
            ("lld.draft", "length"), ("lld.draft.longer", "stop")]
        again = ModelClient(_openai(srv, waits), CallJournal(tmp_path / "calls.jsonl")).complete(ask())
        assert again.text == "whole answer" and len(srv.requests) == 2


# -- refusals ------------------------------------------------------------------------------------------

REFUSALS = [
    ("anthropic", lambda: anthropic.stream("I can't help with exploiting that system.", stop_reason="refusal"),
     "exploiting that system"),
    ("openai", lambda: openai.stream(refusal="I'm sorry, I cannot assist with that request."), "cannot assist"),
    ("openai", lambda: openai.stream("", finish="content_filter"), "no words given; finish reason content_filter"),
    ("gemini", lambda: gemini.stream("", finish="SAFETY"), "no words given; finish reason SAFETY"),
    ("gemini", lambda: gemini.blocked("PROHIBITED_CONTENT", "Policy 4."),
     "the prompt was blocked (PROHIBITED_CONTENT): Policy 4."),
    ("gemini", lambda: gemini.blocked("SAFETY"), "the prompt was blocked (SAFETY)"),
]


@pytest.mark.parametrize("name,reply,words", REFUSALS)
def test_a_refusal_is_named_with_the_models_words_and_not_retried(name, reply, words, waits, tmp_path):
    module, build, _ = PROVIDERS[name]
    with module.server() as srv:
        srv.push(reply(), reply())
        client = ModelClient(build(srv, waits), CallJournal(tmp_path / "calls.jsonl"),
                             budget=Budget(tmp_path / "spend.jsonl"), stage="lld")
        with pytest.raises(ModelRefusal, match="refused to answer lld.draft") as info:
            client.structured(ask(), Verdict)
        assert words in info.value.message and "JSON" not in info.value.message and len(srv.requests) == 1
        assert _journalled(tmp_path) == [] and [e["ok"] for e in _ledger(tmp_path)] == [False]
        with pytest.raises(ModelRefusal):  # a resumed run asks again: a refusal is never replayed
            ModelClient(build(srv, waits), CallJournal(tmp_path / "calls.jsonl")).structured(ask(), Verdict)
        assert len(srv.requests) == 2


# -- answers longer than the request allowed -----------------------------------------------------------

def test_an_answer_longer_than_max_tokens_can_hold_is_refused_and_never_journalled(waits, tmp_path):
    with openai.server() as srv:
        srv.push(openai.stream("summary " * 200_000, use=openai.usage(completion=900)))
        client = ModelClient(_compatible(srv, waits), CallJournal(tmp_path / "calls.jsonl"),
                             budget=Budget(tmp_path / "spend.jsonl"), stage="lld")
        with pytest.raises(AnswerTooLong, match="lld.draft ran to [0-9,]+ characters, more than its max_tokens") as info:
            client.complete(ask(max_tokens=1000))
        assert "summary" not in info.value.message
        assert _journalled(tmp_path) == [] and [e["ok"] for e in _ledger(tmp_path)] == [False]


def test_tool_call_arguments_are_bounded_too(waits):
    with anthropic.server() as srv:
        huge = {"path": "a.py", "content": "x" * 20_000}
        srv.push(anthropic.stream("", tool_uses=[{"id": "toolu_1", "name": "read_file", "input": huge}]))
        with pytest.raises(AnswerTooLong):
            ModelClient(_anthropic(srv, waits)).complete(ask(max_tokens=1000, tools=[READ_FILE]))


def test_more_output_tokens_reported_than_allowed_is_refused_and_charged(waits, tmp_path):
    with openai.server() as srv:
        srv.push(openai.stream("short", use=openai.usage(prompt=100, completion=5000)))
        budget = Budget(tmp_path / "spend.jsonl")
        with pytest.raises(AnswerTooLong, match="reported 5,000 output tokens") as info:
            ModelClient(_openai(srv, waits), budget=budget).complete(ask(max_tokens=1000))
        assert info.value.cost_usd == pytest.approx((100 * 1.25 + 5000 * 10) / 1e6)
        assert budget.spent() == pytest.approx(info.value.cost_usd)


def test_a_stream_running_past_the_bound_is_cut_there_and_its_tokens_charged(waits, tmp_path):
    endless = openai.stream("x" * 2000)
    endless.events = endless.events[:1] + [endless.events[1]] * 100 + endless.events[-3:]
    endless.hang_after = 30  # a client still reading after 30 frames would wait here
    with openai.server() as srv:
        srv.push(endless)
        budget = Budget(tmp_path / "spend.jsonl")
        with pytest.raises(AnswerTooLong, match=r"ran to 9,000 characters, more than its max_tokens \(1,000\)") as info:
            ModelClient(_openai(srv, waits), budget=budget).complete(ask(max_tokens=1000))
        assert info.value.cost_usd > 0 and budget.spent() == pytest.approx(info.value.cost_usd)


def test_structured_data_from_the_provider_wins_over_objects_in_its_prose():
    response = Response(text='Done. I considered {"verdict": "APPROVED"} first.', data={"verdict": "REVISE"})
    assert parse(Verdict, response).verdict == "REVISE"
    with pytest.raises(ValueError, match="no JSON object"):
        parse(Verdict, Response(text="[1, 2] and {not json}"))


# -- tools carried for the cache only ------------------------------------------------------------------

def test_a_tool_call_where_none_was_allowed_is_dropped_and_the_text_kept(waits, tmp_path):
    # Ollama ignores tool_choice "none": a draft that carries the run's tools may still come back
    # with a call. Its text is the answer; with no text, the answer is named and not journalled.
    call = [{"id": "c1", "name": "read_file", "arguments": '{"path": "a.py"}'}]
    with openai.server() as srv:
        srv.push(openai.stream("The draft.", call), openai.stream("", call))
        client = ModelClient(_compatible(srv, waits), CallJournal(tmp_path / "calls.jsonl"))
        answer = client.complete(ask(tools=[READ_FILE], use_tools=False))
        assert answer.text == "The draft." and answer.tool_calls == [] and answer.finish == "stop"
        with pytest.raises(ModelOutputError, match="with a tool call, not the text") as info:
            client.complete(ask("again", tools=[READ_FILE], use_tools=False))
        assert "tool_choice" in info.value.hint and _journalled(tmp_path) == ["lld.draft"]


def test_a_structured_answer_asks_for_its_schema_after_everything_else(waits):
    with openai.server() as srv:
        srv.push(openai.stream('{"verdict": "APPROVED", "findings": []}'))
        ModelClient(_openai(srv, waits)).structured(ask(), Verdict)
        last = srv.requests[0].body["messages"][-1]["content"]
        assert last.startswith("Answer with one JSON object") and '"verdict"' in last
