"""Gemini through the google-genai SDK (`gemini:` model ids).

Every call is streamed, so an idle connection is noticed (the read timeout is the idle limit)
and the wall-clock cap is checked at every chunk; the SDK's own retries and its automatic
stream continuation are off, so the one retry layer is ours. Structured output uses
`response_json_schema` where asked (`native_schema`; by default the schema is in the prompt); a
call that carries tools it may not use says so (function calling NONE); tool calls map to
`functionCall` / `functionResponse` parts. Gemini 3
signs its function calls and wants the signature back with them: it travels inside our tool-call
id, so a resumed run sends it back too. Gemini caches prompt prefixes by itself; cached tokens
are reported.
"""

from __future__ import annotations

import base64
from functools import cached_property
from typing import Any

from agentos.llm.adapter import ProviderBase, tool_names
from agentos.llm.answers import json_object
from agentos.llm.base import Finish, Message, Request, Response, ToolCall, Usage
from agentos.llm.retry import Attempt

SIGNED = "~sig~"
"""Separates a tool-call id from the thought signature carried with it."""
UNNAMED = "gemini-call-"
"""Prefix of the ids we make up for calls the API sent without one (never sent back)."""
BLOCKED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                     "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "JAILBREAK"})
"""Finish (and prompt block) reasons that mean the answer was refused or filtered."""


class GeminiProvider(ProviderBase):
    names = ("gemini",)
    key_envs = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    sdk_module = "google.genai"
    sdk_package = "google-genai"

    @cached_property
    def client(self) -> Any:
        sdk = self.sdk()
        # The server-side deadline is the call's cap; without this header the SDK would send
        # the read timeout (our idle limit) as the deadline for the whole answer.
        options = {"base_url": self.settings.base_url,
                   "headers": {"X-Server-Timeout": str(int(self.policy.timeout_s))}}
        return sdk.Client(api_key=self.api_key(), http_options={k: v for k, v in options.items() if v})

    def _attempt(self, request: Request, attempt: Attempt) -> Response:
        config = self.config(request, attempt)
        answer = _Answer()
        chunks = self.client.models.generate_content_stream(model=self.info.api_id, contents=contents(request),
                                                            config=config)
        for chunk in chunks:
            attempt.accepted = True
            attempt.check()
            answer.add(chunk)
            attempt.answered_chars = len(answer.text)
        return answer.response(request)

    def config(self, request: Request, attempt: Attempt) -> dict[str, Any]:
        config: dict[str, Any] = {
            "max_output_tokens": self.max_tokens(request),
            "automatic_continuation": False,
            "http_options": {"timeout": int(attempt.idle_limit() * 1000)},
        }
        if request.system:
            config["system_instruction"] = request.system
        if tools := self.tools_sent(request):
            config["tools"] = [{"function_declarations": [
                {"name": t.name, "description": t.description, "parameters_json_schema": t.parameters}
                for t in tools]}]
            if not request.use_tools:
                config["tool_config"] = {"function_calling_config": {"mode": "NONE"}}
        if request.output_schema is not None and self.native_schema:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.output_schema
        return config


def contents(request: Request) -> list[dict[str, Any]]:
    """Our messages as Gemini contents: same-role neighbours merged, tool results as user parts."""
    names = tool_names(request.messages)
    out: list[dict[str, Any]] = []
    for message in request.messages:
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message, names)
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return out


def _parts(message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
    if message.role == "tool":
        call_id, _ = _split(message.tool_call_id or "")
        name = names.get(message.tool_call_id or "", "tool")
        return [{"function_response": {"name": name, "response": {"result": message.content}, **_id(call_id)}}]
    parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for call in message.tool_calls:
        call_id, signature = _split(call.id)
        part: dict[str, Any] = {"function_call": {"name": call.name, "args": call.arguments, **_id(call_id)}}
        if signature:
            part["thought_signature"] = base64.b64decode(signature)
        parts.append(part)
    return parts


def _split(call_id: str) -> tuple[str, str | None]:
    base, _, signature = call_id.partition(SIGNED)
    return base, signature or None


def _id(call_id: str) -> dict[str, str]:
    return {} if call_id.startswith(UNNAMED) else {"id": call_id}


class _Answer:
    """A streamed answer put back together: text, function calls, finish or block reason, usage, ids."""

    def __init__(self) -> None:
        self.text = ""
        self.calls: list[ToolCall] = []
        self.finish: str | None = None
        self.model = ""
        self.response_id: str | None = None
        self.usage = Usage()

    def add(self, chunk: Any) -> None:
        self.model = chunk.model_version or self.model
        self.response_id = chunk.response_id or self.response_id
        if chunk.usage_metadata is not None:
            self.usage = usage_of(chunk.usage_metadata)
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:  # the prompt itself was blocked
            self.finish = _name(feedback.block_reason)
            said = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
            self.text += f"the prompt was blocked ({self.finish}){said}"
        for candidate in chunk.candidates or []:
            self.finish = _name(candidate.finish_reason) or self.finish
            for part in (candidate.content.parts if candidate.content else None) or []:
                self._part(part)

    def _part(self, part: Any) -> None:
        if part.function_call is not None:
            call = part.function_call
            call_id = call.id or f"{UNNAMED}{len(self.calls)}"
            if part.thought_signature:
                call_id += SIGNED + base64.b64encode(part.thought_signature).decode()
            self.calls.append(ToolCall(id=call_id, name=call.name or "", arguments=dict(call.args or {})))
        elif part.text and not part.thought:
            self.text += part.text

    def response(self, request: Request) -> Response:
        data = json_object(self.text) if request.output_schema is not None else None
        return Response(text=self.text, data=data, tool_calls=self.calls, usage=self.usage,
                        request_id=self.response_id, model=self.model, stop_reason=self.finish,
                        finish=self.finish_kind())

    def finish_kind(self) -> Finish:
        if self.finish in BLOCKED:
            return "refusal"
        if self.finish == "MAX_TOKENS":
            return "length"
        if self.finish == "STOP":
            return "tool_calls" if self.calls else "stop"
        return "other"


def _name(value: Any) -> str | None:
    return getattr(value, "value", value) if value is not None else None


def usage_of(meta: Any) -> Usage:
    """Gemini counts cached tokens inside the prompt count, and bills thinking as output."""
    cached = meta.cached_content_token_count or 0
    return Usage(input_tokens=max(0, (meta.prompt_token_count or 0) - cached),
                 output_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                 cache_read_tokens=cached)
