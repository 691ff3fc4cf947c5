"""A loopback fake of the Gemini API (POST /v1[beta]/models/{model}:streamGenerateContent?alt=sse)."""

from __future__ import annotations

import re

from tests.llm.fakes.server import FakeServer, Recorded, Reply, sse

KEY = "AIzaSy-test-0123456789abcdef"
ROUTE = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>streamGenerateContent|generateContent)$")


def server(key: str = KEY) -> FakeServer:
    return FakeServer(lambda request: _check(request, key))


def _check(request: Recorded, key: str) -> Reply | None:
    if not ROUTE.match(request.path):
        return error(404, f"no route {request.path}", "NOT_FOUND")
    if request.headers.get("x-goog-api-key") != key:
        return error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT",
                     reason="API_KEY_INVALID")
    body = request.body if isinstance(request.body, dict) else {}
    if not body.get("contents"):
        return error(400, "* GenerateContentRequest.contents: contents is not specified", "INVALID_ARGUMENT")
    return None


def error(status: int, message: str, status_name: str, reason: str | None = None,
          retry_delay: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    details = []
    if reason:
        details.append({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                        "domain": "googleapis.com"})
    if retry_delay:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    body = {"error": {"code": status, "message": message, "status": status_name, "details": details}}
    return Reply(status, body, headers=headers or {})


def usage(prompt: int = 10, candidates: int = 5, cached: int = 0, thoughts: int = 0) -> dict:
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
           "totalTokenCount": prompt + candidates + thoughts, "cachedContentTokenCount": cached}
    return {**out, "thoughtsTokenCount": thoughts} if thoughts else out


def stream(text: str = "", function_calls: list[dict] | None = None, use: dict | None = None,
           model: str = "gemini-3-pro-preview", finish: str = "STOP", hang_after: int | None = None,
           response_id: str = "resp_fake_1") -> Reply:
    """A streamed answer: text in two chunks, then function calls, the finish reason and usage."""
    half = len(text) // 2
    parts_list = [[{"text": piece}] for piece in (text[:half], text[half:]) if piece]
    calls = [{"functionCall": {"name": c["name"], "args": c.get("args", {}), **({"id": c["id"]} if "id" in c else {})},
              **({"thoughtSignature": c["signature"]} if "signature" in c else {})} for c in function_calls or []]
    if calls:
        parts_list.append(calls)
    chunks = [_chunk(model, response_id, parts) for parts in parts_list or [[{"text": ""}]]]
    chunks[-1]["candidates"][0]["finishReason"] = finish
    chunks[-1]["usageMetadata"] = use or usage()
    return Reply(200, events=[sse(c) for c in chunks], hang_after=hang_after)


def _chunk(model: str, response_id: str, parts: list[dict]) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": model, "responseId": response_id}


def blocked(reason: str = "PROHIBITED_CONTENT", message: str = "", use: dict | None = None,
            model: str = "gemini-3-pro-preview") -> Reply:
    """A prompt the API refused to answer: prompt feedback with a block reason, no candidates."""
    feedback = {"blockReason": reason, **({"blockReasonMessage": message} if message else {})}
    chunk = {"promptFeedback": feedback, "usageMetadata": use or usage(candidates=0), "modelVersion": model,
             "responseId": "resp_blocked"}
    return Reply(200, events=[sse(chunk)])
