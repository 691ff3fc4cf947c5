"""A loopback fake of the Anthropic Messages API (POST /v1/messages, streamed as SSE)."""

from __future__ import annotations

import json
from typing import Any

from tests.llm.fakes.server import FakeServer, Recorded, Reply, sse

KEY = "sk-ant-test-0123456789abcdef"


def server(key: str = KEY) -> FakeServer:
    return FakeServer(lambda request: _check(request, key))


def _check(request: Recorded, key: str) -> Reply | None:
    if request.path != "/v1/messages":
        return error(404, "not_found_error", f"no route {request.path}")
    sent = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
    if sent != key:
        return error(401, "authentication_error", "invalid x-api-key")
    if "anthropic-version" not in request.headers:
        return error(400, "invalid_request_error", "anthropic-version header is required")
    body = request.body if isinstance(request.body, dict) else {}
    missing = [k for k in ("model", "max_tokens", "messages") if k not in body]
    if missing:
        return error(400, "invalid_request_error", f"{missing[0]}: Field required")
    return None


def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_err"}
    return Reply(status, body, headers={"request-id": "req_err", **(headers or {})})


def usage(input_tokens: int = 10, output_tokens: int = 5, cache_read: int = 0, cache_write: int = 0) -> dict:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}


def stream(text: str = "", tool_uses: list[dict] | None = None, use: dict | None = None,
           model: str = "claude-sonnet-4-6", stop_reason: str | None = None,
           hang_after: int | None = None, request_id: str = "req_fake_1") -> Reply:
    """A streamed answer: message_start, text and tool_use blocks in deltas, message_delta, message_stop."""
    use = use or usage()
    start_usage = {**use, "output_tokens": 1}
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    frames = [sse({"type": "message_start", "message": message}, "message_start"), sse({"type": "ping"}, "ping")]
    blocks = ([("text", text)] if text else []) + [("tool", t) for t in tool_uses or []]
    for index, (kind, value) in enumerate(blocks):
        frames += _text_block(index, value) if kind == "text" else _tool_block(index, value)
    stop = stop_reason or ("tool_use" if tool_uses else "end_turn")
    frames.append(sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                       "usage": {"output_tokens": use["output_tokens"]}}, "message_delta"))
    frames.append(sse({"type": "message_stop"}, "message_stop"))
    return Reply(200, events=frames, headers={"request-id": request_id}, hang_after=hang_after)


def _text_block(index: int, text: str) -> list[str]:
    half = len(text) // 2
    frames = [sse({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                  "content_block_start")]
    for piece in (text[:half], text[half:]):
        frames.append(sse({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": piece}}, "content_block_delta"))
    return frames + [sse({"type": "content_block_stop", "index": index}, "content_block_stop")]


def _tool_block(index: int, tool: dict[str, Any]) -> list[str]:
    raw = json.dumps(tool.get("input", {}))
    half = len(raw) // 2
    block = {"type": "tool_use", "id": tool["id"], "name": tool["name"], "input": {}}
    frames = [sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")]
    for piece in (raw[:half], raw[half:]):
        frames.append(sse({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": piece}}, "content_block_delta"))
    return frames + [sse({"type": "content_block_stop", "index": index}, "content_block_stop")]
