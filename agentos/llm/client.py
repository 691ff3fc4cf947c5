"""The one path every model call takes: redaction, journal replay, the budget, progress events,
structured output.

Secrets are redacted from the request before anything else (so they reach neither the model nor
the journal), a journalled call is replayed for free, and only a call that will really be paid
for is checked against the budget caps first and charged after, failed or not.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from agentos import redact
from agentos.errors import ModelOutputError
from agentos.llm.base import Message, Provider, Request, Response
from agentos.llm.budget import Budget
from agentos.llm.journal import CallJournal, call_key
from agentos.progress.events import Progress

T = TypeVar("T", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


class ModelClient:
    def __init__(
        self,
        provider: Provider,
        journal: CallJournal | None = None,
        progress: Progress | None = None,
        stage: str | None = None,
        salt: str = "",
        budget: Budget | None = None,
    ):
        self.provider = provider
        self.journal = journal or CallJournal(None)
        self.progress = progress or Progress()
        self.stage = stage
        self.salt = salt
        self.budget = budget or Budget()

    @property
    def model_id(self) -> str:
        return self.provider.model_id

    def complete(self, request: Request) -> Response:
        request = scrub(request)
        key = call_key(self.model_id, self.salt, request)
        cached = self.journal.get(key)
        if cached is not None:
            self._report(request, cached, cached_call=True)
            return cached
        self.budget.reserve(self.stage, self.model_id, request)
        try:
            response = scrub(self.provider.complete(request))
        except Exception as exc:  # a failed call still counts: what its attempts cost is charged
            self.budget.charge(self.stage, self.model_id, request.purpose, getattr(exc, "cost_usd", 0.0), ok=False)
            raise
        self.budget.charge(self.stage, self.model_id, request.purpose, response.cost_usd, ok=True)
        self.journal.put(key, request, response)
        self._report(request, response, cached_call=False)
        return response

    def structured(self, request: Request, schema: type[T]) -> tuple[T, Response]:
        """A validated object of `schema`; one retry quoting the validation error, then fail."""
        request = request.model_copy(update={"output_schema": schema.model_json_schema()})
        response = self.complete(request)
        try:
            return _parse(schema, response), response
        except (ValidationError, ValueError) as first:
            retry = request.model_copy(
                update={
                    "purpose": f"{request.purpose}.retry",
                    "messages": [
                        *request.messages,
                        Message(role="assistant", content=response.text),
                        Message(role="user", content=_retry_prompt(first)),
                    ],
                }
            )
            response = self.complete(retry)
            try:
                return _parse(schema, response), response
            except (ValidationError, ValueError) as second:
                raise ModelOutputError(
                    f"{self.model_id} did not return a valid {schema.__name__} for "
                    f"{request.purpose} (twice): {_short(second)}",
                    "try another reviewer model, or check the provider's structured-output support",
                ) from None

    def _report(self, request: Request, response: Response, cached_call: bool) -> None:
        self.progress.emit(
            "model_call",
            stage=self.stage,
            model=self.model_id,
            purpose=request.purpose,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cost_usd=response.cost_usd,
            data={"latency_s": response.latency_s, "cached": cached_call, "turn": request.turn,
                  "cache_read_tokens": response.usage.cache_read_tokens,
                  "cache_write_tokens": response.usage.cache_write_tokens,
                  "request_id": response.request_id, "spent_usd": round(self.budget.spent(), 6)},
        )


def scrub(model: M) -> M:
    """`model` with every known secret redacted (the same object when there is none in it)."""
    redactor = redact.current()
    if not redactor:
        return model
    raw = model.model_dump_json()
    clean = redactor.redact(raw)
    return model if clean == raw else type(model).model_validate_json(clean)


def _parse(schema: type[T], response: Response) -> T:
    if response.data is not None:
        return schema.model_validate(response.data)
    return schema.model_validate(json.loads(_strip_fence(response.text)))


def _strip_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", "; ")[:400]


def _retry_prompt(exc: Exception) -> str:
    return (
        "Your previous answer did not match the required JSON schema:\n"
        f"{_short(exc)}\nAnswer again with only a JSON object that matches the schema."
    )
