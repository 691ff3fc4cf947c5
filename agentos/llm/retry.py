"""The one retry layer: every real provider call's failures are classified once, here.

- transient (5xx, 529 overloaded, connection errors, timeouts, an idle stream): retried with
  exponential backoff and jitter, honouring the provider's retry-after;
- rate limited (429): wait as told (retry-after, retry-after-ms, Gemini's RetryInfo);
- authentication (401, 403, a rejected key): fail at once naming the variable to set;
- invalid request (400, 404, 422): fail at once naming the setting to check;
- context too long: fail at once naming the stage;
- the call's wall-clock cap: fail, saying which setting raises it;
- an answer streaming past what its max_tokens can hold: cut there (refused by the provider base).

The SDKs' own retries are off (max_retries=0, no automatic stream continuation) and the graph
nodes have no retry policy, so nothing multiplies these attempts. Attempts that failed after
the provider started answering are counted: their tokens are added to the call's usage.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Literal, TypeVar

from agentos.errors import AgentosError, ModelCallError, ProviderConfigError
from agentos.llm.base import Request, Response, Usage
from agentos.progress.view import plural
from agentos.redact import redact

Kind = Literal["transient", "rate_limited", "auth", "invalid", "context", "deadline", "failed"]
RETRIED: frozenset[str] = frozenset({"transient", "rate_limited"})

CONTEXT_TOO_LONG = re.compile(
    r"context[_ ]length[_ ]exceeded|prompt is too long|maximum context length|context window"
    r"|input token count .* exceeds|exceeds the maximum number of tokens|too many (input )?tokens",
    re.IGNORECASE,
)
BAD_KEY = re.compile(r"api[_ ]key[_ ]invalid|api key not valid|invalid api key|invalid x-api-key", re.IGNORECASE)
TRANSIENT_NAMES = frozenset({
    "APIConnectionError", "APITimeoutError", "TimeoutException", "TransportError", "NetworkError",
    "RemoteProtocolError", "ConnectionError", "TimeoutError", "ProtocolError", "IncompleteRead",
})
ERROR_TYPES: dict[str, Kind] = {  # the type named in an error body, e.g. an error event mid-stream
    "overloaded_error": "transient", "api_error": "transient", "server_error": "transient",
    "rate_limit_error": "rate_limited", "authentication_error": "auth", "permission_error": "auth",
    "invalid_request_error": "invalid", "not_found_error": "invalid", "request_too_large": "context",
}

T = TypeVar("T")


class ModelCallFailed(ModelCallError):
    """A model call that failed for good; `cost_usd` is what its failed attempts still cost."""

    def __init__(self, message: str, hint: str | None = None, cost_usd: float = 0.0):
        super().__init__(message, hint)
        self.cost_usd = cost_usd


class ContextTooLongError(ModelCallFailed):
    """The prompt does not fit the model's context window."""


class DeadlineExceeded(Exception):
    """Raised inside an attempt when the call's wall-clock cap has passed."""


class AnswerOverflow(Exception):
    """Raised inside an attempt when the answer has grown past `max_chars`; carries what it cost."""

    def __init__(self, chars: int):
        super().__init__(f"the answer ran to {chars} characters")
        self.chars = chars
        self.cost_usd = 0.0


@dataclass(frozen=True)
class Failure:
    kind: Kind
    message: str
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    timeout_s: float = 600.0
    """Wall-clock cap on the whole call, waits included."""
    idle_timeout_s: float = 120.0
    max_wait_s: float = 60.0
    base_delay_s: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        return cls(max_attempts=settings.max_attempts, timeout_s=settings.timeout_s,
                   idle_timeout_s=settings.idle_timeout_s, max_wait_s=settings.max_retry_wait_s)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, so callers spread out."""
        delay = min(self.max_wait_s, self.base_delay_s * 2 ** (attempt - 1))
        return delay / 2 + self.jitter() * delay / 2


@dataclass
class Attempt:
    """One try at a call: its deadline, and what it has consumed so far (for failed tries)."""

    policy: RetryPolicy
    deadline: float
    usage: Usage | None = None
    """Usage the provider reported before the attempt ended (e.g. at the start of a stream)."""
    answered_chars: int = 0
    accepted: bool = False
    """Whether the provider accepted the request and started answering."""
    max_chars: int | None = None
    """The most characters the answer may run to (its max_tokens, generously); past it, it is cut."""

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.policy.clock())

    def check(self) -> None:
        """Called as the answer streams in: past the deadline, or past max_chars, the attempt ends."""
        if self.policy.clock() >= self.deadline:
            raise DeadlineExceeded(f"no complete answer within {self.policy.timeout_s:g}s")
        if self.max_chars is not None and self.answered_chars > self.max_chars:
            raise AnswerOverflow(self.answered_chars)

    def idle_limit(self) -> float:
        """How long a read may wait for data: the idle limit, never past the deadline."""
        return max(0.001, min(self.policy.idle_timeout_s, self.remaining()))


@dataclass(frozen=True)
class CallInfo:
    """What error messages name: the model, the call, and what the user can change."""

    model_id: str
    purpose: str
    auth_hint: str
    settings_key: str
    """e.g. providers.anthropic: where base_url and the timeouts are set."""


@dataclass
class Outcome:
    wasted: Usage = field(default_factory=Usage)
    attempts: int = 0


def call_with_retries(attempt_fn: Callable[[Attempt], Response], request: Request, policy: RetryPolicy,
                      info: CallInfo, cost: Callable[[Usage], float], max_chars: int | None = None,
                      rate_limited: Callable[[float], None] | None = None) -> Response:
    """Run attempts until one answers or a failure is final; the answer's usage includes waste.

    `rate_limited` hears each 429's wait, so the workers sharing the provider wait too.

    An answer streaming past `max_chars` is cut there (AnswerOverflow, with what the call cost).
    """
    deadline = policy.clock() + policy.timeout_s
    outcome = Outcome()
    while True:
        outcome.attempts += 1
        attempt = Attempt(policy, deadline, max_chars=max_chars)
        try:
            response = attempt_fn(attempt)
        except AgentosError:
            raise
        except AnswerOverflow as overflow:
            overflow.cost_usd = cost(outcome.wasted + _consumed(attempt, request))
            raise
        except Exception as exc:  # classified below; what is not a provider failure re-raises
            failure = classify(exc)
            if failure is None:
                raise
            failure = _in_context(failure, exc, attempt)
            outcome.wasted += _consumed(attempt, request)
            wait = _wait_before_retry(failure, outcome.attempts, policy, attempt)
            if failure.kind == "rate_limited" and rate_limited is not None:
                rate_limited(wait if wait is not None else policy.backoff(outcome.attempts))
            if wait is None:
                raise final_error(failure, info, policy, outcome, cost(outcome.wasted)) from None
            policy.sleep(wait)
            continue
        return response.model_copy(update={"usage": response.usage + outcome.wasted})


def _in_context(failure: Failure, exc: BaseException, attempt: Attempt) -> Failure:
    """A timeout said in the words of what happened: the call's cap passed, or the stream went idle."""
    if failure.kind != "transient" or "Timeout" not in type(exc).__name__:
        return failure
    if attempt.remaining() <= 0:
        return Failure("deadline", f"no complete answer within {attempt.policy.timeout_s:g}s")
    if attempt.accepted:
        idle = attempt.policy.idle_timeout_s
        return Failure("transient", f"the answer stream sent nothing for {idle:g}s and was cut")
    return failure


def _consumed(attempt: Attempt, request: Request) -> Usage:
    """Tokens a failed attempt was (probably) billed for: reported, else estimated once answering."""
    if attempt.usage is not None:
        return attempt.usage.model_copy(update={"output_tokens": max(attempt.usage.output_tokens,
                                                                     attempt.answered_chars // 4)})
    if not attempt.accepted:
        return Usage()
    prompt = len(request.system) + sum(len(m.content) for m in request.messages)
    return Usage(input_tokens=prompt // 4, output_tokens=attempt.answered_chars // 4)


def _wait_before_retry(failure: Failure, attempts: int, policy: RetryPolicy, attempt: Attempt) -> float | None:
    """Seconds to wait before the next attempt, or None when the failure is final."""
    if failure.kind not in RETRIED or attempts >= policy.max_attempts:
        return None
    wait = failure.retry_after if failure.retry_after is not None else policy.backoff(attempts)
    if wait > policy.max_wait_s or wait >= attempt.remaining():
        return None
    return wait


def classify(exc: BaseException) -> Failure | None:
    """What kind of failure an SDK, HTTP or CLI exception is; None when it is not one (a bug)."""
    if isinstance(exc, DeadlineExceeded):
        return Failure("deadline", str(exc))
    status = _status(exc)
    known: Kind | None = getattr(exc, "failure_kind", None)  # set by the agent-CLI adapters
    if known:
        return Failure(known, str(exc), status, retry_after(exc))
    if status is None:
        names = {cls.__name__ for cls in type(exc).__mro__}
        return Failure("transient", _describe(exc)) if names & TRANSIENT_NAMES else None
    message = _api_message(exc)
    return Failure(_kind(status, message, _error_type(exc)), message, status, retry_after(exc))


def _kind(status: int, message: str, error_type: str | None) -> Kind:
    if status == 413 or CONTEXT_TOO_LONG.search(message):
        return "context"
    if status in (401, 403) or (status == 400 and BAD_KEY.search(message)):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status in (408, 409) or status >= 500:
        return "transient"
    if status < 400:  # an error event inside an accepted stream: its body says what it was
        return ERROR_TYPES.get(error_type or "", "transient")
    return "invalid"


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _body(exc: BaseException) -> Any:
    return getattr(exc, "body", None) or getattr(exc, "details", None)


def _error_type(exc: BaseException) -> str | None:
    body = _body(exc)
    error = body.get("error") if isinstance(body, dict) else None
    return (error or {}).get("type") if isinstance(error, dict) else getattr(exc, "type", None)


def _api_message(exc: BaseException) -> str:
    body = _body(exc)
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return getattr(exc, "api_message", None) or getattr(exc, "message", None) or _describe(exc)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait: retry-after-ms, retry-after, or Gemini's RetryInfo."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return _seconds(headers["retry-after"])
    except (TypeError, ValueError):
        pass
    match = re.search(r"'retryDelay': '([\d.]+)s'|\"retryDelay\": \"([\d.]+)s\"", str(_body(exc)))
    return float(match.group(1) or match.group(2)) if match else None


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())


def final_error(failure: Failure, info: CallInfo, policy: RetryPolicy, outcome: Outcome, cost: float) -> AgentosError:
    """The typed error a user sees, with what to change; secrets redacted."""
    status = f" ({failure.status})" if failure.status else ""
    stage = info.purpose.split(".")[0]
    said = redact(failure.message)[:600]
    if failure.retry_after is not None and failure.retry_after > policy.max_wait_s:
        said += f" (it asked to wait {failure.retry_after:g}s, more than max_retry_wait_s)"
    if failure.kind == "auth":
        return ProviderConfigError(f"{info.model_id}: the provider refused the credentials{status}: {said}",
                                   info.auth_hint)
    if failure.kind == "invalid":
        return ProviderConfigError(
            f"{info.model_id} rejected the {info.purpose} request{status}: {said}",
            f"check the model name in the stage's config and the {info.settings_key} settings")
    if failure.kind == "context":
        return ContextTooLongError(
            f"stage {stage}: the {info.purpose} prompt is too long for {info.model_id}: {said}",
            f"lower stages.{stage}.context_tokens, or use a model with a larger context window", cost)
    if failure.kind == "deadline":
        return ModelCallFailed(f"{info.model_id}: {info.purpose} {said} (after {plural(outcome.attempts, 'attempt')})",
                               f"raise {info.settings_key}.timeout_s, or try a faster model", cost)
    tries = f"after {plural(outcome.attempts, 'attempt')}" if failure.kind in RETRIED else "(not retried)"
    return ModelCallFailed(
        f"{info.model_id}: {info.purpose} failed {tries}{status}: {said}",
        "the provider is unavailable or rate-limited; run the same command again later to continue",
        cost)
