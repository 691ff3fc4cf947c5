"""A loopback fake of the OpenAI Chat Completions API (POST /v1/chat/completions, streamed as SSE).

The same wire format is spoken by Ollama, vLLM and other OpenAI-compatible servers.
"""

from __future__ import annotations

import json

from tests.llm.fakes.server import FakeServer, Recorded, Reply, sse

KEY = "sk-proj-test-0123456789abcdef"


def server(key: str | None = KEY, prefix: str = "/v1") -> FakeServer:
    """`key` None: a local server that takes any key (as Ollama does)."""
    return FakeServer(lambda request: _check(request, key, prefix))


def _check(request: Recorded, key: str | None, prefix: str) -> Reply | None:
    if request.path != f"{prefix}/chat/completions":
        return error(404, f"no route {request.path}", "not_found")
    if key is not None and request.headers.get("authorization") != f"Bearer {key}":
        return error(401, "Incorrect API key provided", "invalid_api_key", "invalid_request_error")
    body = request.body if isinstance(request.body, dict) else {}
    missing = [k for k in ("model", "messages") if k not in body]
    if missing:
        return error(400, f"Missing required parameter: '{missing[0]}'.", "missing_required_parameter")
    return None


def error(status: int, message: str, code: str | None = None, kind: str = "invalid_request_error",
          headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply(status, body, headers={"x-request-id": "req_err", **(headers or {})})


def usage(prompt: int = 10, completion: int = 5, cached: int = 0, written: int | None = None) -> dict:
    details = {"cached_tokens": cached, **({} if written is None else {"cache_write_tokens": written})}
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": details}


def stream(text: str = "", tool_calls: list[dict] | None = None, use: dict | None = None,
           model: str = "gpt-5-2025-08-07", finish: str | None = None, hang_after: int | None = None,
           request_id: str = "req_fake_1", include_usage: bool = True, refusal: str = "") -> Reply:
    """A streamed answer: content (or refusal) and tool-call argument deltas, a finish chunk, a usage
    chunk, [DONE]."""
    chunks = [_chunk(model, {"role": "assistant", "content": None if refusal else ""})]
    field, said = ("refusal", refusal) if refusal else ("content", text)
    half = len(said) // 2
    chunks += [_chunk(model, {field: piece}) for piece in (said[:half], said[half:]) if piece]
    for index, call in enumerate(tool_calls or []):
        chunks += _tool_deltas(model, index, call)
    stop = finish or ("tool_calls" if tool_calls else "stop")
    chunks.append(_chunk(model, {}, stop))
    if include_usage:
        chunks.append({**_chunk(model, {}), "choices": [], "usage": use or usage()})
    frames = [sse(c) for c in chunks] + [sse("[DONE]")]
    return Reply(200, events=frames, headers={"x-request-id": request_id}, hang_after=hang_after)


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _tool_deltas(model: str, index: int, call: dict) -> list[dict]:
    args = call.get("arguments", {})
    raw = args if isinstance(args, str) else json.dumps(args)  # a str: sent as is, even if malformed
    half = len(raw) // 2
    first = {"index": index, "id": call["id"], "type": "function",
             "function": {"name": call["name"], "arguments": raw[:half]}}
    rest = {"index": index, "function": {"arguments": raw[half:]}}
    return [_chunk(model, {"tool_calls": [first]}), _chunk(model, {"tool_calls": [rest]})]
