"""The one retry layer: classification, waits, the wall-clock cap, and usage of failed attempts."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from agentos.errors import ProviderConfigError
from agentos.llm.base import Response, Usage
from agentos.llm.retry import CallInfo, ContextTooLongError, ModelCallFailed, call_with_retries, classify, retry_after
from tests.helpers.llm import ask

INFO = CallInfo("claude:opus-4.5", "lld.review", "check ANTHROPIC_API_KEY", "providers.anthropic")


class StatusError(Exception):
    """Shaped like the SDKs' status errors: status_code, response headers, a JSON body."""

    def __init__(self, status, message="", headers=None, body=None):
        super().__init__(message)
        self.status_code = status
        self.response = type("R", (), {"headers": headers or {}})()
        self.body = body if body is not None else {"error": {"message": message}}


class TimeoutException(Exception):
    """Named like httpx's, whose ReadTimeout the SDKs raise from a stream that went idle."""


class ReadTimeout(TimeoutException):
    pass


@pytest.mark.parametrize("exc,kind", [
    (StatusError(529, "Overloaded"), "transient"),
    (StatusError(500, "oops"), "transient"),
    (StatusError(408, "timeout"), "transient"),
    (StatusError(429, "slow down"), "rate_limited"),
    (StatusError(401, "bad key"), "auth"),
    (StatusError(403, "forbidden"), "auth"),
    (StatusError(400, "API key not valid. Please pass a valid API key."), "auth"),
    (StatusError(400, "messages: field required"), "invalid"),
    (StatusError(404, "model not found"), "invalid"),
    (StatusError(413, "request too large"), "context"),
    (StatusError(400, "prompt is too long: 210000 tokens > 200000 maximum"), "context"),
    (StatusError(200, "", body={"error": {"type": "overloaded_error", "message": "Overloaded"}}), "transient"),
    (ReadTimeout("read timed out"), "transient"),
    (ConnectionResetError("reset"), "transient"),
])
def test_classification(exc, kind):
    assert classify(exc).kind == kind


def test_a_bug_is_not_a_provider_failure():
    assert classify(KeyError("x")) is None


def test_retry_after_forms():
    assert retry_after(StatusError(429, headers={"retry-after-ms": "250"})) == 0.25
    assert retry_after(StatusError(429, headers={"retry-after": "12"})) == 12.0
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after(StatusError(429, headers={"retry-after": when})) <= 30
    gemini = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}
    assert retry_after(StatusError(429, body=gemini)) == 7.0


def run(waits, failures, **policy):
    """Attempts that raise `failures` in turn, then answer; reports usage on each attempt."""
    plan = list(failures)

    def attempt(a):
        a.accepted = True
        a.usage = Usage(input_tokens=100)
        if plan:
            raise plan.pop(0)
        return Response(text="ok", usage=Usage(input_tokens=100, output_tokens=10))

    return call_with_retries(attempt, ask(), waits.policy(**policy), INFO, lambda u: u.input_tokens / 1e6)


def test_transient_failures_back_off_with_jitter_and_their_tokens_count(waits):
    r = run(waits, [StatusError(503, "busy"), StatusError(529, "overloaded")])
    assert r.text == "ok" and waits == [1.5, 3.0]
    assert r.usage.input_tokens == 300  # two cut attempts plus the answer


def test_rate_limit_waits_exactly_as_told(waits):
    assert run(waits, [StatusError(429, "wait", {"retry-after": "4"})]).text == "ok" and waits == [4.0]


def test_auth_and_invalid_requests_fail_at_once(waits):
    with pytest.raises(ProviderConfigError, match=r"refused the credentials \(401\)") as info:
        run(waits, [StatusError(401, "invalid x-api-key")])
    assert info.value.hint == "check ANTHROPIC_API_KEY" and waits == []
    with pytest.raises(ProviderConfigError, match="rejected the lld.review request"):
        run(waits, [StatusError(422, "bad field")])


def test_giving_up_reports_attempts_and_what_they_cost(waits):
    with pytest.raises(ModelCallFailed, match=r"after 3 attempts \(500\)") as info:
        run(waits, [StatusError(500, "down")] * 3)
    assert info.value.cost_usd == pytest.approx(300 / 1e6)


def test_a_wait_past_the_limit_or_the_deadline_is_not_waited(waits):
    with pytest.raises(ModelCallFailed, match="asked to wait 120s"):
        run(waits, [StatusError(429, "wait", {"retry-after": "120"})])
    with pytest.raises(ModelCallFailed):
        run(waits, [StatusError(503, "busy")], timeout_s=1.0)  # a 1.5s backoff would pass the 1s cap
    assert waits == []


def test_context_too_long_is_final_and_names_the_stage(waits):
    with pytest.raises(ContextTooLongError, match="stage lld") as info:
        run(waits, [StatusError(400, "maximum context length is 128000 tokens")])
    assert "stages.lld.context_tokens" in info.value.hint


def test_secrets_in_a_provider_error_are_redacted(waits, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-planted-secret-123")
    with pytest.raises(ModelCallFailed) as info:
        run(waits, [StatusError(500, "upstream said: key sk-ant-planted-secret-123 is throttled")], max_attempts=1)
    assert "sk-ant-planted-secret-123" not in str(info.value)
    assert "[REDACTED:ANTHROPIC_API_KEY]" in info.value.message
