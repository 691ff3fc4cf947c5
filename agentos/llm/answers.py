"""Answers as real models give them: the JSON object inside prose or code fences, and answers that
cannot be used as they are (cut off at max_tokens, refused, or longer than the request allowed).

The model client judges every answer here before it is used or journalled. A refusal is named as
one, with the model's words; a truncated answer is named as truncated (the client asks once more
with twice the room, up to the model's output limit); an answer bigger than its `max_tokens` could
hold is refused as such, whatever it says. Structured answers are found, never repaired: an
answer that is one JSON object (bare or fenced) is validated as it is; otherwise the objects in
its fenced blocks and its prose are, and the answer is the one distinct object that validates
with none but the schema's fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentos.errors import ModelOutputError
from agentos.llm.base import Request, Response
from agentos.llm.retry import ModelCallFailed

T = TypeVar("T", bound=BaseModel)

CHARS_PER_TOKEN = 8
"""Generous: text, code and JSON average 3-4 characters a token; whitespace-heavy code stays well under 8."""
SLACK_CHARS = 256
"""Allowed on top, so a request for a handful of tokens is not judged to the character."""
FENCE = re.compile(r"```[\w+-]*[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)


class AnswerRefused(ModelCallFailed, ModelOutputError):
    """An answer that cannot be used as it is. Final, like a provider that gave up: asking again at
    once would get the same, so the run stops resumably (the same command asks again) rather than
    re-running the stage; `cost_usd` is what the call still cost."""


class ModelRefusal(AnswerRefused):
    """The model (or the provider's safety filter) declined to answer."""


class AnswerTruncated(AnswerRefused):
    """The answer was cut off at its token limit."""


class AnswerTooLong(AnswerRefused):
    """The answer is longer than the request's `max_tokens` could hold."""


def max_chars(request: Request) -> int:
    """The most characters an answer within the request's max_tokens can plausibly run to."""
    return request.max_tokens * CHARS_PER_TOKEN + SLACK_CHARS


def answer_chars(response: Response) -> int:
    """The answer's size: its text (or its structured object), and its tool calls' arguments."""
    data = len(json.dumps(response.data)) if response.data is not None else 0
    return max(len(response.text), data) + sum(len(json.dumps(c.arguments)) for c in response.tool_calls)


def too_long(request: Request, size: int, model_id: str, cost_usd: float = 0.0) -> AnswerTooLong | None:
    """The error for an answer of `size` characters when its max_tokens cannot hold that many, or None."""
    if size <= max_chars(request):
        return None
    return AnswerTooLong(
        f"{model_id}'s answer to {request.purpose} ran to {size:,} characters, more than its max_tokens "
        f"({request.max_tokens:,}) can hold; it was not used",
        "the provider or server is misbehaving (or is not the model it claims to be); check its base_url",
        cost_usd)


def over_reported_tokens(request: Request, output_tokens: int, sent_max: int, model_id: str,
                         cost_usd: float) -> AnswerTooLong | None:
    """The error for an answer the provider itself counts as longer than the limit it was sent."""
    if output_tokens <= sent_max:
        return None
    return AnswerTooLong(
        f"{model_id} reported {output_tokens:,} output tokens for {request.purpose}, more than the "
        f"{sent_max:,} it was allowed; the answer was not used",
        "the provider or server ignores max_tokens; check its base_url and model", cost_usd)


def refusal(request: Request, response: Response, model_id: str) -> ModelRefusal | None:
    """The error for a refused (or safety-blocked) answer, quoting the model's words, or None."""
    if response.finish != "refusal":
        return None
    words = " ".join(response.text.split())[:600] or f"(no words given; finish reason {response.stop_reason})"
    return ModelRefusal(
        f"{model_id} refused to answer {request.purpose}: {words}",
        "read its reason: rephrase the issue or documents it was given, or use another model; "
        "run the same command again to ask once more", response.cost_usd)


def without_tool_calls(request: Request, response: Response, model_id: str) -> tuple[Response, AnswerRefused | None]:
    """The answer without tool calls it was not allowed to make (a server that ignores tool_choice
    none), and the error when nothing else is left of it."""
    response = response.model_copy(update={"tool_calls": [], "finish": "stop"})
    if response.text.strip():
        return response, None
    return response, AnswerRefused(
        f"{model_id} answered {request.purpose} with a tool call, not the text it was asked for",
        "its server ignores tool_choice \"none\": run the same command again, or use a server that honours it",
        response.cost_usd)


def truncated(request: Request, response: Response, model_id: str, cap: int, retried: bool) -> AnswerTruncated:
    """The error for an answer cut off at its token limit, naming what raises the limit."""
    sent = min(request.max_tokens, cap)
    again = " even after a retry with twice the room" if retried else ""
    setting = f"providers.{model_id.partition(':')[0]}.max_output_tokens"
    hint = (f"{model_id} may write at most {cap:,} tokens in one answer; if the model allows longer answers, "
            f"raise {setting}; otherwise use a model with a larger output limit"
            if sent >= cap else "ask for less in one call, or use a model that answers more briefly")
    return AnswerTruncated(f"{model_id}: the answer to {request.purpose} was cut off at {sent:,} tokens"
                           f"{again} (finish reason {response.stop_reason or 'length'})", hint, response.cost_usd)


def with_more_room(request: Request, cap: int) -> Request | None:
    """The same request allowed twice the tokens (up to `cap`), or None when it already had the most."""
    if request.max_tokens >= cap:
        return None
    return request.model_copy(update={"max_tokens": min(cap, request.max_tokens * 2),
                                      "purpose": f"{request.purpose}.longer"})


def schema_prompt(schema: dict[str, Any]) -> str:
    """How a structured answer is asked for in the prompt (the last message of the call)."""
    return ("Answer with one JSON object that matches this JSON Schema (alone, or in a ```json block):\n"
            f"```json\n{json.dumps(schema, sort_keys=True)}\n```")


def parse(schema: type[T], response: Response) -> T:
    """The answer's object, validated against `schema`.

    An object that is the whole answer (or the provider's structured data) is validated as it is,
    as before. Otherwise the objects inside the prose and its fences are tried: one counts only
    when it has at least one of the schema's fields and none the schema lacks (so an example or a
    fragment is never mistaken for the answer), and exactly one distinct object must validate.
    Raises ValueError (the first validation error, when an object was found) for the caller to
    quote back to the model.
    """
    whole = response.data if response.data is not None else json_object(response.text)
    errors: list[ValueError] = []
    if whole is not None:
        try:
            return schema.model_validate(whole)
        except ValidationError as exc:
            errors.append(exc)
    valid = _valid_inside(schema, response.text, whole, errors)
    if len(valid) > 1:
        raise ValueError(f"the answer holds {len(valid)} different JSON objects that match the schema; send one")
    if valid:
        return valid[0]
    raise errors[0] if errors else ValueError("the answer holds no JSON object")


def _valid_inside(schema: type[T], text: str, whole: dict[str, Any] | None, errors: list[ValueError]) -> list[T]:
    """The distinct objects inside `text` (other than `whole`) that validate; the others' errors to `errors`."""
    names = set(schema.model_fields) | {f.alias for f in schema.model_fields.values() if f.alias}
    seen: list[dict[str, Any]] = [whole] if whole is not None else []
    valid: list[T] = []
    for obj in objects_in(text):
        if obj in seen:
            continue
        seen.append(obj)
        if not obj or not set(obj) <= names:
            errors.append(ValueError(f"the JSON object in the answer has fields {sorted(obj)}, "
                                     f"not the schema's {sorted(names)}"))
            continue
        try:
            parsed = schema.model_validate(obj)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if parsed not in valid:
            valid.append(parsed)
    return valid


def objects_in(text: str) -> Iterator[dict[str, Any]]:
    """JSON objects inside a model's text: each fenced block, then each top-level bare object."""
    for block in FENCE.findall(text):
        obj = _load(block.strip())
        if obj is not None:
            yield obj
    yield from _bare_objects(text)


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object that is the whole answer (bare, or alone in a code fence), or None."""
    body = text.strip()
    match = FENCE.fullmatch(body)
    return _load((match.group(1) if match else body).strip())


def _bare_objects(text: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    at = text.find("{")
    while at != -1:
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at = text.find("{", at + 1)
            continue
        if isinstance(value, dict):
            yield value
        at = text.find("{", end)


def _load(body: str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
