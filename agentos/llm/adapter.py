"""What every real provider shares: its settings and key, the retry layer, usage and cost.

A provider subclass declares its facts as class attributes (names, key variables, the SDK it
needs) and implements `_attempt(request, attempt)`: one try at the call. Everything else (the
retry layer, the wall-clock cap, usage of failed tries, cost from the price table, latency)
happens here, once, and so does the bound on an answer the provider counts as longer than the
`max_tokens` it was sent (refused, never used). Nothing in this module imports an SDK:
`--dry-run` and `doctor` ask the classes whether they are ready without paying for that.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from agentos.errors import ProviderConfigError
from agentos.llm import answers
from agentos.llm.base import Message, Request, Response, ToolSpec, Usage
from agentos.llm.limits import NO_LIMITS
from agentos.llm.models import ModelInfo, model_info
from agentos.llm.retry import AnswerOverflow, Attempt, CallInfo, RetryPolicy, call_with_retries
from agentos.llm.settings import ProviderConfig


class ProviderBase:
    names: ClassVar[tuple[str, ...]] = ()
    """Provider names this class serves; the first is used for settings and messages."""
    key_envs: ClassVar[tuple[str, ...]] = ()
    """Variables that may hold the API key, in order of preference; () when none is needed."""
    sdk_module: ClassVar[str | None] = None
    sdk_package: ClassVar[str] = ""
    tools_for_cache: ClassVar[bool] = True
    """Whether a call that may not use tools still carries them (with tool_choice none), so that it
    opens like the implementer's calls: tool definitions start a provider's prompt-cache key. Off
    where that gains nothing or risks the call: Anthropic (its cached messages depend on
    tool_choice as well), Ollama (ignores tool_choice, so a draft could come back as a tool call)."""
    native_schema: ClassVar[bool] = False
    """Whether a structured answer's schema is also sent as the API's structured-output parameter.
    Off where that parameter is part of the prompt-cache key (OpenAI, Anthropic, Gemini: a run's
    reviews would then share no cached prefix with its drafts); the schema is always in the prompt
    (ModelClient.structured), and answers are validated here either way."""

    def __init__(self, model_id: str, info: ModelInfo, settings: ProviderConfig | None = None,
                 env: Mapping[str, str] | None = None, policy: RetryPolicy | None = None):
        self.model_id = model_id
        self.info = info
        self.settings = settings or ProviderConfig()
        self.env = env or {}
        self.policy = policy or RetryPolicy.from_settings(self.settings)
        self.limits: Any = NO_LIMITS
        """Slots, rates and pauses shared with the other workers of a batch (llm/limits.py)."""

    # -- building and readiness (no SDK import) -------------------------------------------
    @classmethod
    def from_model_id(cls, model_id: str, name: str, ctx: Any) -> ProviderBase:
        provider = model_id.partition(":")[0]
        settings = settings_for(ctx.settings, (provider, *cls.names))
        made = cls(model_id, model_info(provider, name), settings, ctx.env)
        made.limits = getattr(ctx, "limits", None) or NO_LIMITS
        return made

    @classmethod
    def check_model(cls, provider: str, name: str) -> None:
        model_info(provider, name)

    @classmethod
    def readiness(cls, name: str, ctx: Any) -> str | None:
        """Why `name` cannot be used here (unknown model, no SDK, no key), or None."""
        try:
            model_info(cls.names[0], name)
        except ProviderConfigError as exc:
            return f"{exc.message} ({exc.hint})"
        return cls.missing(settings_for(ctx.settings, cls.names), ctx.env)

    @classmethod
    def missing(cls, settings: ProviderConfig, env: Mapping[str, str]) -> str | None:
        if cls.sdk_module and importlib.util.find_spec(cls.sdk_module) is None:
            return f"the {cls.sdk_package} package is not installed (pip install {cls.sdk_package})"
        names = cls.key_names(settings)
        if names and not any(env.get(n) for n in names):
            return f"no API key: set {' or '.join(names)} in the environment or the repository's .env"
        return None

    @classmethod
    def key_names(cls, settings: ProviderConfig) -> tuple[str, ...]:
        return (settings.api_key_env,) if settings.api_key_env else cls.key_envs

    # -- calling ----------------------------------------------------------------------------
    @property
    def max_output(self) -> int:
        """The model's output limit: the `max_output_tokens` setting, else what the model table says."""
        return self.settings.max_output_tokens or self.info.max_output

    def max_tokens(self, request: Request) -> int:
        """The output limit sent with the request: what it asks for, within the model's limit."""
        return min(request.max_tokens, self.max_output)

    def complete(self, request: Request) -> Response:
        """One call through the retry layer, its answer bounded in size, with its cost and latency."""
        started = time.perf_counter()
        answered: list[Response] = []

        name = self.names[0]

        def attempt(a: Attempt) -> Response:
            with self.limits.slot(name):
                answered.append(self._attempt(request, a))
            return answered[-1]

        try:
            response = call_with_retries(attempt, request, self.policy, self.call_info(request), self.cost,
                                         answers.max_chars(request),
                                         rate_limited=lambda s: self.limits.slow_down(name, s))
        except AnswerOverflow as overflow:
            raise answers.too_long(request, overflow.chars, self.model_id, overflow.cost_usd) from None
        cost = self.cost(response.usage) if self.info.price else response.cost_usd
        too_long = answers.over_reported_tokens(request, answered[-1].usage.output_tokens, self.max_tokens(request),
                                                self.model_id, cost)
        if too_long is not None:
            raise too_long
        return response.model_copy(update={"cost_usd": cost, "latency_s": round(time.perf_counter() - started, 4)})

    def _attempt(self, request: Request, attempt: Attempt) -> Response:
        raise NotImplementedError

    def tools_sent(self, request: Request) -> list[ToolSpec]:
        """The tool definitions to send: those the call may use, or carries for the cache."""
        return request.tools if request.use_tools or self.tools_for_cache else []

    def cost(self, usage: Usage) -> float:
        return self.info.price.cost(usage) if self.info.price else 0.0

    def call_info(self, request: Request) -> CallInfo:
        names = self.key_names(self.settings)
        auth = (f"check {' or '.join(names)} (in the environment or the repository's .env; never in config.yaml)"
                if names else f"check the server's credentials and providers.{self.names[0]} settings")
        return CallInfo(self.model_id, request.purpose, auth, f"providers.{self.names[0]}")

    def api_key(self) -> str:
        names = self.key_names(self.settings)
        for name in names:
            if self.env.get(name):
                return self.env[name]
        raise ProviderConfigError(
            f"{self.model_id}: no API key; set {' or '.join(names)}",
            "export it, or put it in the target repository's .env (git-ignored); never in config.yaml",
        )

    def sdk(self) -> Any:
        """The SDK module, imported on first use; a missing SDK is a clear error, not a traceback."""
        try:
            return importlib.import_module(self.sdk_module or "")
        except ImportError:
            raise ProviderConfigError(f"{self.model_id} needs the {self.sdk_package} package",
                                      f"pip install {self.sdk_package}") from None


def settings_for(settings: Mapping[str, Any], names: tuple[str, ...]) -> ProviderConfig:
    """The first of `names` that has settings, as a ProviderConfig; defaults when none has."""
    for name in names:
        value = settings.get(name)
        if value is not None:
            return value if isinstance(value, ProviderConfig) else ProviderConfig.model_validate(value)
    return ProviderConfig()


def http_timeout(attempt: Attempt) -> Any:
    """httpx2 timeouts for one attempt: a read waits at most the idle limit (an idle stream is cut)."""
    import httpx2

    idle = attempt.idle_limit()
    return httpx2.Timeout(connect=min(15.0, idle), read=idle, write=idle, pool=min(15.0, idle))


def tool_names(messages: list[Message]) -> dict[str, str]:
    """Tool-call id → tool name, for APIs whose tool results must name the tool."""
    return {call.id: call.name for m in messages for call in m.tool_calls}
