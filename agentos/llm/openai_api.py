"""OpenAI Chat Completions through the OpenAI SDK: `openai:`, and with a base URL from the config,
`openai-compatible:`, `ollama:` and `vllm:` (local models, no cloud at all).

Every call is streamed with usage included, so an idle connection is noticed and the
wall-clock cap is checked at every chunk. A structured answer's schema is in the prompt; local
servers also get `response_format` json_schema (plain, as their strict support varies), which
they apply as constrained decoding outside the prompt (`native_schema`). A call that carries
tools it may not use sends tool_choice none. Tool calls map to `tool_calls` and `role: tool`
messages. OpenAI caches long prompt prefixes by itself; the
cached tokens are reported.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cached_property
from typing import Any, ClassVar

from agentos.llm.adapter import ProviderBase, http_timeout
from agentos.llm.answers import json_object
from agentos.llm.base import Finish, Message, Request, Response, ToolCall, Usage
from agentos.llm.retry import Attempt


FINISH: dict[str, Finish] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                             "function_call": "tool_calls", "content_filter": "refusal"}
"""Chat Completions' finish_reason → our finish; anything else a server says is "other"."""


class OpenAIProvider(ProviderBase):
    names = ("openai",)
    key_envs = ("OPENAI_API_KEY",)
    sdk_module = "openai"
    sdk_package = "openai"
    default_base_url: ClassVar[str | None] = None
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    cache_key: ClassVar[bool] = True
    """Send `prompt_cache_key` (OpenAI routes calls with the same key to the same prompt cache)."""
    no_key: ClassVar[str] = ""
    """Key sent to servers that need none (the SDK insists on one)."""

    @cached_property
    def client(self) -> Any:
        sdk = self.sdk()
        key = self.api_key() if self.key_names(self.settings) else self.no_key
        return sdk.OpenAI(api_key=key, base_url=self.settings.base_url or self.default_base_url, max_retries=0)

    def _attempt(self, request: Request, attempt: Attempt) -> Response:
        stream = self.client.chat.completions.create(**self.params(request), timeout=http_timeout(attempt))
        answer = _Answer()
        with stream:
            for chunk in stream:
                attempt.accepted = True
                attempt.check()
                answer.add(chunk)
                attempt.answered_chars = answer.chars()
            request_id = stream.response.headers.get("x-request-id")
        return answer.response(request, request_id)

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.info.api_id,
            "messages": messages(request),
            self.max_tokens_field: self.max_tokens(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools := self.tools_sent(request):
            params["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                                 "parameters": t.parameters}} for t in tools]
            if not request.use_tools:
                params["tool_choice"] = "none"
        if request.output_schema is not None and self.native_schema:  # plain: strict support varies
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": request.output_schema, "strict": False}}
        if self.cache_key:
            params["prompt_cache_key"] = prefix_key(request)
        return params


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server speaking the Chat Completions API; `providers.openai-compatible.base_url` is required."""

    names = ("openai-compatible",)
    key_envs = ()
    native_schema = True
    """Local servers (llama.cpp, vLLM, Ollama) apply response_format as constrained decoding,
    outside the prompt tokens their prefix caches key on, so it costs no cache and keeps JSON whole."""
    max_tokens_field = "max_tokens"
    cache_key = False
    no_key = "none"

    @classmethod
    def missing(cls, settings: Any, env: Any) -> str | None:
        if not (settings.base_url or cls.default_base_url):
            return f"no base URL: set providers.{cls.names[0]}.base_url to the server's /v1 endpoint"
        return super().missing(settings, env)


class OllamaProvider(OpenAICompatibleProvider):
    names = ("ollama",)
    tools_for_cache = False
    default_base_url = "http://localhost:11434/v1"
    no_key = "ollama"


class VllmProvider(OllamaProvider):
    names = ("vllm",)
    default_base_url = "http://localhost:8000/v1"
    no_key = "EMPTY"


def messages(request: Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
    return out + [_message(m) for m in request.messages]


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                             for c in message.tool_calls]
    return out


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in OpenAI's strict form: closed objects, every property required (Codex's
    --output-schema wants it)."""
    out = copy.deepcopy(schema)
    _close(out)
    return out


def _close(node: Any) -> None:
    """Close one schema node and the schemas inside it (by keyword, never by property name)."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "object" or "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    node.pop("default", None)
    for keyword in ("properties", "$defs", "definitions"):
        for child in (node.get(keyword) or {}).values():
            _close(child)
    for keyword in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for child in node.get(keyword) or []:
            _close(child)
    _close(node.get("items"))


def prefix_key(request: Request) -> str:
    first = request.messages[0].content if request.messages else ""
    return hashlib.sha256(f"{request.system}\n{first}".encode()).hexdigest()[:32]


class _Answer:
    """A streamed answer put back together: text, a refusal, tool calls by index, finish reason, usage."""

    def __init__(self) -> None:
        self.text = ""
        self.refusal = ""
        self.calls: dict[int, dict[str, str]] = {}
        self.finish: str | None = None
        self.model = ""
        self.usage = Usage()

    def add(self, chunk: Any) -> None:
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = usage_of(chunk.usage)
        for choice in chunk.choices or []:
            self.finish = choice.finish_reason or self.finish
            self.text += choice.delta.content or ""
            self.refusal += getattr(choice.delta, "refusal", None) or ""
            for delta in choice.delta.tool_calls or []:
                call = self.calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                if delta.function is not None:
                    call["name"] = delta.function.name or call["name"]
                    call["arguments"] += delta.function.arguments or ""

    def chars(self) -> int:
        return len(self.text) + len(self.refusal) + sum(len(c["arguments"]) for c in self.calls.values())

    def response(self, request: Request, request_id: str | None) -> Response:
        calls = [ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=_arguments(c["arguments"]))
                 for i, c in sorted(self.calls.items())]
        data = json_object(self.text) if request.output_schema is not None else None
        finish = "refusal" if self.refusal else FINISH.get(self.finish or "", "other")
        return Response(text=self.refusal or self.text, data=None if self.refusal else data, tool_calls=calls,
                        usage=self.usage, request_id=request_id, model=self.model, stop_reason=self.finish,
                        finish=finish)


def _arguments(raw: str) -> dict[str, Any]:
    """The arguments object; malformed JSON is handed on, so the tool can say what is wrong."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {"_unparsed_arguments": raw}
    return value if isinstance(value, dict) else {"_unparsed_arguments": raw}


def usage_of(usage: Any) -> Usage:
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    written = (getattr(details, "cache_write_tokens", 0) or 0) if details else 0
    return Usage(input_tokens=max(0, (usage.prompt_tokens or 0) - cached - written),
                 output_tokens=usage.completion_tokens or 0, cache_read_tokens=cached, cache_write_tokens=written)
