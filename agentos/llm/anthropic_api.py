"""Claude through the Anthropic SDK (`claude:` and `anthropic:` model ids).

Every call is streamed, so an idle connection is noticed (the read timeout is the idle limit)
and the wall-clock cap is checked at every event. Structured output uses the Messages API's
JSON-schema output format where asked (`native_schema`; by default the schema is in the prompt);
tool calls map to `tool_use` / `tool_result` blocks. The system
prompt carries a `cache_control` breakpoint, and so do the messages the request names in
`cache_after` (the end of the run's shared prefix, of a role's instructions, a tool loop's
latest turn), so later calls read what they repeat from the cache.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from agentos.llm.adapter import ProviderBase, http_timeout
from agentos.llm.answers import json_object
from agentos.llm.base import Finish, Message, Request, Response, ToolCall, Usage
from agentos.llm.retry import Attempt

CACHE = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
"""Anthropic refuses a request with more blocks marked for caching."""
FINISH: dict[str, Finish] = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
                             "max_tokens": "length", "model_context_window_exceeded": "length", "refusal": "refusal"}
"""Anthropic's stop_reason → our finish; anything else (pause_turn) is "other"."""


class AnthropicProvider(ProviderBase):
    names = ("anthropic", "claude")
    key_envs = ("ANTHROPIC_API_KEY",)
    sdk_module = "anthropic"
    sdk_package = "anthropic"
    tools_for_cache = False
    """Anthropic's cached messages depend on tool_choice too: tools sent with tool_choice none would
    share nothing more with the implementer's calls (the system prompt at most)."""

    @cached_property
    def client(self) -> Any:
        sdk = self.sdk()
        return sdk.Anthropic(api_key=self.api_key(), base_url=self.settings.base_url, max_retries=0)

    def _attempt(self, request: Request, attempt: Attempt) -> Response:
        params = self.params(request)
        with self.client.messages.stream(**params, timeout=http_timeout(attempt)) as stream:
            attempt.accepted = True
            for event in stream:
                attempt.check()
                if event.type == "message_start":
                    attempt.usage = usage_of(event.message.usage)
                elif event.type == "content_block_delta":
                    delta = event.delta
                    said = getattr(delta, "text", None) or getattr(delta, "partial_json", None)
                    attempt.answered_chars += len(said or "")
            message = stream.get_final_message()
            return self.response(request, message, stream.request_id)

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.info.api_id,
            "max_tokens": self.max_tokens(request),
            "messages": messages(request),
        }
        if request.system:
            params["system"] = [{"type": "text", "text": request.system, "cache_control": CACHE}]
        if tools := self.tools_sent(request):
            params["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                               for t in tools]
        if request.output_schema is not None and self.native_schema:
            schema = self.sdk().transform_schema(request.output_schema)
            params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return params

    def response(self, request: Request, message: Any, request_id: str | None) -> Response:
        text = "".join(block.text for block in message.content if block.type == "text")
        calls = [ToolCall(id=b.id, name=b.name, arguments=dict(b.input or {}))
                 for b in message.content if b.type == "tool_use"]
        data = json_object(text) if request.output_schema is not None else None
        return Response(text=text, data=data, tool_calls=calls, usage=usage_of(message.usage),
                        request_id=request_id, model=message.model, stop_reason=message.stop_reason,
                        finish=FINISH.get(message.stop_reason or "", "other"))


def usage_of(usage: Any) -> Usage:
    return Usage(input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0,
                 cache_read_tokens=usage.cache_read_input_tokens or 0,
                 cache_write_tokens=usage.cache_creation_input_tokens or 0)


def messages(request: Request) -> list[dict[str, Any]]:
    """Our messages as Anthropic turns: same-role neighbours merged, tool results as user blocks;
    cache breakpoints where the request says later calls repeat it."""
    turns: list[dict[str, Any]] = []
    ends: dict[int, dict[str, Any]] = {}  # message index → its last block
    for i, message in enumerate(request.messages):
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
        ends[i] = blocks[-1]
    for i in breakpoints(request, len(request.messages)):
        sent = [j for j in ends if j <= i]  # an empty message has no block: mark the one before it
        if sent:
            ends[max(sent)]["cache_control"] = CACHE
    return turns


def breakpoints(request: Request, count: int) -> list[int]:
    """The messages that get a breakpoint, at most MAX_BREAKPOINTS - 1 (the system prompt has
    one): the request's own, keeping the first (the run's shared prefix) and the latest; else
    the first message and, in a tool loop, the last."""
    points = sorted({i for i in request.cache_after if 0 <= i < count})
    if not points:
        points = [0] + ([count - 1] if request.tools and count > 1 else [])
    room = MAX_BREAKPOINTS - 1
    return points if len(points) <= room else [points[0], *points[len(points) - room + 1:]]


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content or "(empty)"}]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls]
    return blocks
