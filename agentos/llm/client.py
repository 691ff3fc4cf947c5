"""The one path every model call takes: redaction, journal replay, the budget, progress events,
answers judged (llm/answers.py), structured output.

Secrets are redacted from the request before anything else (so they reach neither the model nor
the journal), a journalled call is replayed for free, and only a call that will really be paid
for is checked against the budget caps first and charged after, failed or not.

Every answer is judged before it is used: one longer than its `max_tokens` could hold, or a
refusal, fails the call (charged in the spend ledger, never journalled, so a resumed run asks
again). A truncated answer is journalled as such and asked once more with twice the room, up to
the model's output limit; a replayed truncated answer leads to the same (replayed) retry, so no
finished call is paid twice.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from agentos import redact
from agentos.errors import ModelOutputError
from agentos.llm import answers
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
        """The model's answer; a truncated one is asked again once with more room, then fails."""
        request = scrub(request)
        response = self._answer(request)
        if response.finish != "length":
            return response
        longer = answers.with_more_room(request, self.provider.max_output)
        if longer is None:
            raise answers.truncated(request, response, self.model_id, self.provider.max_output, retried=False)
        response = self._answer(longer)
        if response.finish == "length":
            raise answers.truncated(longer, response, self.model_id, self.provider.max_output, retried=True)
        return response

    def _answer(self, request: Request) -> Response:
        """One call: replayed from the journal, or paid for, charged, judged and journalled."""
        key = call_key(self.model_id, self.salt, request)
        cached = self.journal.get(key)
        if cached is not None:
            self._report(request, cached, cached_call=True)
            return cached
        self.budget.reserve(self.stage, self.model_id, request)
        response, unusable = self._paid(request)
        self._report(request, response, cached_call=False)
        if unusable is not None:
            raise unusable
        self.journal.put(key, request, response)
        return response

    def _paid(self, request: Request) -> tuple[Response, answers.AnswerRefused | None]:
        """The provider's answer, charged before it is used, and why it cannot be used (None: it can)."""
        try:
            response = self.provider.complete(request)
        except Exception as exc:  # a failed call still counts: what its attempts cost is charged
            self.budget.charge(self.stage, self.model_id, request.purpose, getattr(exc, "cost_usd", 0.0),
                               ok=False)
            raise
        size = answers.answer_chars(response)
        unusable: answers.AnswerRefused | None = answers.too_long(request, size, self.model_id, response.cost_usd)
        if unusable is None:
            response = scrub(response)
            unusable = answers.refusal(request, response, self.model_id)
            if unusable is None and response.tool_calls and not request.use_tools:
                response, unusable = answers.without_tool_calls(request, response, self.model_id)
        else:  # never kept, shown or redacted at length
            response = response.model_copy(update={"text": "", "data": None, "tool_calls": []})
        self.budget.charge(self.stage, self.model_id, request.purpose, response.cost_usd,
                           ok=unusable is None and response.finish != "length")
        return response, unusable

    def structured(self, request: Request, schema: type[T]) -> tuple[T, Response]:
        """A validated object of `schema`; one retry quoting the validation error, then fail.

        The schema is asked for in the prompt, after everything the call shares with the run's other
        calls: providers whose structured-output parameter is part of their prompt-cache key (OpenAI,
        Anthropic, Gemini) would otherwise share no cached prefix between kinds of answer. A provider
        that applies the parameter outside the prompt (constrained decoding on a local server) gets
        it as well (`Request.output_schema`)."""
        wanted = schema.model_json_schema()
        request = request.model_copy(update={"output_schema": wanted, "messages": [
            *request.messages, Message(role="user", content=answers.schema_prompt(wanted))]})
        response = self.complete(request)
        try:
            return answers.parse(schema, response), response
        except ValueError as first:
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
                return answers.parse(schema, response), response
            except ValueError as second:
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
                  "request_id": response.request_id, "finish": response.finish,
                  "spent_usd": round(self.budget.spent(), 6)},
        )


def scrub(model: M) -> M:
    """`model` with every known secret redacted (the same object when there is none in it)."""
    redactor = redact.current()
    if not redactor:
        return model
    raw = model.model_dump_json()
    clean = redactor.redact(raw)
    return model if clean == raw else type(model).model_validate_json(clean)


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", "; ")[:400]


def _retry_prompt(exc: Exception) -> str:
    return (
        "Your previous answer did not match the required JSON schema:\n"
        f"{_short(exc)}\nAnswer again with only a JSON object that matches the schema."
    )
