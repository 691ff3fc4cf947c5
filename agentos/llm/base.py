"""The one interface every model provider implements, and the plain data it speaks."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class ToolSpec(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema of the arguments object."""


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})


class Request(BaseModel):
    """One model call. `system` and the first messages are the stable prefix (cacheable): see
    agentos/workflows/prefix.py for what every call of a run starts with."""

    system: str
    messages: list[Message]
    output_schema: dict[str, Any] | None = None
    """JSON Schema the answer must satisfy (structured output): asked for in the prompt, and sent as
    the API's own parameter only where that is outside the cache key (ProviderBase.native_schema)."""
    tools: list[ToolSpec] = Field(default_factory=list)
    use_tools: bool = True
    """Whether the model may call `tools` in this call. The implementing model's drafts carry its
    tools without being allowed to call them, since tool definitions open a provider's prompt-cache
    key; providers send them with tool_choice none, or none at all where that gains nothing
    (ProviderBase.tools_for_cache)."""
    max_tokens: int = 8192
    purpose: str
    """What the call is for, e.g. "lld.review": used for logs, progress and scripted replies."""
    turn: int = 0
    """Sequence number of this call within its purpose (review round, tool-loop step)."""
    cache_after: list[int] = Field(default_factory=list)
    """Indexes of the messages that end a part later calls repeat byte for byte (the run's shared
    prefix, a role's instructions, a tool loop's conversation so far). Providers that cache at
    explicit breakpoints put them there; without any, after the first message."""


def callable_tools(request: Request) -> list[ToolSpec]:
    """The tools the model may call in `request` (none when it carries them only for the cache)."""
    return request.tools if request.use_tools else []


Finish = Literal["stop", "length", "refusal", "tool_calls", "other"]
"""Why an answer ended, the same for every provider: done, cut off at max_tokens, refused (or
blocked by a safety filter), asking for tools, or anything else the provider said."""


class Response(BaseModel):
    text: str = ""
    """What the model said; for a refusal, its words (or the filter's reason)."""
    data: dict[str, Any] | None = None
    """The parsed JSON object, when the request had an output_schema."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    request_id: str | None = None
    model: str = ""
    stop_reason: str | None = None
    """The provider's own finish reason, as it said it (for logs)."""
    finish: Finish = "stop"


@runtime_checkable
class Provider(Protocol):
    """A configured model. Implementations are registered by name in llm/registry.py."""

    model_id: str
    """The "provider:model" string it was built from."""
    max_output: int
    """The most output tokens one call may ask for (a truncated answer is retried with more, up to this)."""

    def complete(self, request: Request) -> Response: ...
