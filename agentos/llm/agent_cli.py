"""The users' logged-in agent CLIs as model providers (text mode): `claude-code:`, `gemini-cli:`, `codex:`.

For subscription users, who pay for a CLI rather than API tokens. Each call runs the CLI once,
non-interactively and in its JSON mode, with the conversation rendered on stdin, in a fresh
scratch directory, with its own editing and shell tools off: here it answers, it does not act.
Structured output uses the CLI's schema flag (Claude Code `--json-schema`, Codex
`--output-schema`; Gemini CLI has none, so the schema goes into the prompt); tool calls are asked
for as JSON the same way and normalised to ToolCall. The CLI runs through the one process runner
(agentos/process.py), its whole process group ended at the call's wall-clock cap. Its failures are classified from its error output and
go through the one retry layer. `<cli>:default` uses whatever model the CLI is set to. The
command lines come from the one table of CLIs (llm/clis.py), which also accepts the old names
`claude-cli:` and `codex-cli:`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from agentos.errors import ProviderConfigError
from agentos.files import json_lines
from agentos.llm import answers
from agentos.llm.adapter import ProviderBase
from agentos.llm.answers import json_object
from agentos.llm.base import Request, Response, ToolCall, Usage, callable_tools
from agentos.llm.clis import CLIS, Cli, TextCall
from agentos.llm.openai_api import strict
from agentos.llm.retry import CONTEXT_TOO_LONG, Attempt, CallInfo, DeadlineExceeded, Kind
from agentos.process import BoundedRun, run_bounded
from agentos.redact import SECRET_NAME

OUTPUT_CHARS = 4_000_000
"""Most of a CLI's stdout kept; an answer longer than this is cut, so it cannot be read."""
RATE_LIMITED = re.compile(r"\b429\b|rate.?limit|usage limit|quota|resource.?exhausted", re.IGNORECASE)
TRANSIENT = re.compile(r"\b5\d\d\b|overloaded|timed? ?out|ECONNRESET|ETIMEDOUT|network|unavailable", re.IGNORECASE)
AUTH = re.compile(r"\b40[13]\b|authenticat|unauthori[sz]ed|not logged in|log ?in|invalid api key|credential",
                  re.IGNORECASE)


class CliFailure(Exception):
    """The CLI ran but did not answer; `failure_kind` tells the retry layer what kind of failure."""

    def __init__(self, message: str):
        super().__init__(message)
        self.failure_kind: Kind = failure_kind(message)
        status = re.search(r"\b([45]\d\d)\b", message)
        self.status_code = int(status.group(1)) if status else None


def failure_kind(text: str) -> Kind:
    if CONTEXT_TOO_LONG.search(text):
        return "context"
    if RATE_LIMITED.search(text):
        return "rate_limited"
    if AUTH.search(text):
        return "auth"
    return "transient" if TRANSIENT.search(text) else "failed"


class AgentCli(ProviderBase):
    cli: ClassVar[Cli]
    """The CLI's facts and command lines, from the one table in llm/clis.py."""
    strict_schema: ClassVar[bool] = False
    """Whether the CLI's schema flag wants OpenAI's strict form."""

    @classmethod
    def missing(cls, settings: Any, env: Mapping[str, str]) -> str | None:
        command = settings.command or cls.cli.binary
        if shutil.which(command) is None:
            return (f"the `{command}` CLI is not on PATH ({cls.cli.install_hint()} and log in, "
                    f"or set providers.{cls.names[0]}.command)")
        return None

    def call_info(self, request: Request) -> CallInfo:
        hint = f"log the CLI in: run `{self.command}` once in a terminal"
        return dataclasses.replace(super().call_info(request), auth_hint=hint)

    def max_tokens(self, request: Request) -> int:
        """None is sent: a CLI has no such flag, so only the answer's size bounds it (in the client)."""
        return sys.maxsize

    @property
    def command(self) -> str:
        return self.settings.command or self.cli.binary

    def _attempt(self, request: Request, attempt: Attempt) -> Response:
        schema = answer_schema(request, strict_form=self.strict_schema)
        with tempfile.TemporaryDirectory(prefix="agentos-cli-") as scratch:
            call = TextCall(self.command, self.info.api_id, request.system or "", schema,
                            Path(scratch) / "answer.schema.json")
            if schema is not None:
                call.schema_file.write_text(json.dumps(schema), encoding="utf-8")
            attempt.accepted = True  # a CLI that is cut off may already have used tokens
            run = self._run(self.cli.text_argv(call), self.stdin(request, schema), Path(scratch), attempt)
        out = run.clipped(OUTPUT_CHARS)
        response = self.parse(out)
        if response is None:
            raise CliFailure(f"{self.command} exited {run.exit_code} without an answer: "
                             f"{(run.stderr or out).strip()[-800:]}")
        return finish(response, request, schema)

    def _run(self, argv: list[str], stdin: str, scratch: Path, attempt: Attempt) -> BoundedRun:
        """Run the CLI through the one process runner; its whole process group ends at the deadline."""
        try:
            run = run_bounded(argv, scratch, max(0.001, attempt.remaining()), base_env=self.child_env(), stdin=stdin,
                              head_chars=OUTPUT_CHARS, tail_chars=OUTPUT_CHARS, stderr_apart=True)
        except OSError as exc:
            raise ProviderConfigError(f"cannot run {argv[0]}: {exc}",
                                      f"{self.cli.install_hint()}, or set providers.{self.names[0]}.command") from None
        if run.timed_out:
            raise DeadlineExceeded(f"{Path(argv[0]).name} gave no answer within {attempt.policy.timeout_s:g}s; "
                                   "its process group was killed")
        return run

    def parse(self, out: str) -> Response | None:
        """The CLI's answer from its stdout; raises CliFailure for a reported error; None if absent."""
        raise NotImplementedError

    def stdin(self, request: Request, schema: dict | None) -> str:
        return render(request, schema, with_system=True)

    def child_env(self) -> dict[str, str]:
        """The environment without secrets the CLI does not need (it may run tools of its own)."""
        return {k: v for k, v in self.env.items() if k in self.cli.own_keys or not SECRET_NAME.search(k)}


class ClaudeCli(AgentCli):
    cli = CLIS["claude-code"]
    names = cli.names

    def stdin(self, request: Request, schema: dict | None) -> str:
        return render(request, schema, with_system=False, schema_flag=True)

    def parse(self, out: str) -> Response | None:
        doc = _last_json(out)
        if doc is None:
            return None
        if doc.get("is_error") or doc.get("subtype", "success") != "success":
            raise CliFailure(f"claude: {doc.get('subtype', 'error')}: {doc.get('result') or doc.get('error') or ''}")
        use = doc.get("usage") or {}
        usage = Usage(input_tokens=use.get("input_tokens", 0), output_tokens=use.get("output_tokens", 0),
                      cache_read_tokens=use.get("cache_read_input_tokens", 0),
                      cache_write_tokens=use.get("cache_creation_input_tokens", 0))
        data = doc.get("structured_output")
        return Response(text=doc.get("result") or "", data=data if isinstance(data, dict) else None, usage=usage,
                        cost_usd=float(doc.get("total_cost_usd") or 0.0), request_id=doc.get("session_id"),
                        model=self.info.api_id or next(iter(doc.get("modelUsage") or {}), ""), stop_reason="end_turn")


class GeminiCli(AgentCli):
    cli = CLIS["gemini-cli"]
    names = cli.names

    def parse(self, out: str) -> Response | None:
        doc = _last_json(out)
        if doc is None:
            return None
        error = doc.get("error")
        if error:
            raise CliFailure(f"gemini: {error.get('code', '')} {error.get('message', error)}")
        models = ((doc.get("stats") or {}).get("models") or {})
        usage, model = Usage(), ""
        for name, stats in models.items():
            t = stats.get("tokens") or {}
            cached = t.get("cached", 0)
            usage += Usage(input_tokens=max(0, t.get("prompt", 0) - cached), cache_read_tokens=cached,
                           output_tokens=t.get("candidates", 0) + t.get("thoughts", 0))
            model = model or name
        return Response(text=doc.get("response") or "", usage=usage, model=self.info.api_id or model,
                        stop_reason="end_turn")


class CodexCli(AgentCli):
    cli = CLIS["codex"]
    names = cli.names
    strict_schema = True

    def parse(self, out: str) -> Response | None:
        text, usage, thread, seen = "", Usage(), None, False
        for event in json_lines(out):
            kind = event.get("type")
            if kind in ("turn.failed", "error"):
                error = event.get("error") or {}
                raise CliFailure(f"codex: {error.get('message') or event.get('message') or event}")
            if kind == "thread.started":
                thread = event.get("thread_id")
            elif kind == "item.completed" and (event.get("item") or {}).get("type") == "agent_message":
                text, seen = event["item"].get("text") or "", True
            elif kind == "turn.completed":
                u = event.get("usage") or {}
                cached = u.get("cached_input_tokens", 0)
                usage += Usage(input_tokens=max(0, u.get("input_tokens", 0) - cached), cache_read_tokens=cached,
                               output_tokens=u.get("output_tokens", 0))
        if not seen:
            return None
        return Response(text=text, usage=usage, request_id=thread, model=self.info.api_id, stop_reason="end_turn")


def answer_schema(request: Request, strict_form: bool) -> dict[str, Any] | None:
    """What the CLI must answer with: tool calls (when tools are offered), the output schema, or text."""
    if callable_tools(request):
        call = {"type": "object", "additionalProperties": False, "required": ["name", "arguments"], "properties": {
            "name": {"type": "string", "enum": [t.name for t in request.tools]},
            "arguments": {"type": "string", "description": "the tool's arguments as a JSON object"}}}
        return {"type": "object", "additionalProperties": False, "required": ["text", "tool_calls"], "properties": {
            "text": {"type": "string"}, "tool_calls": {"type": "array", "items": call}}}
    if request.output_schema is not None and strict_form:
        return strict(request.output_schema)
    return request.output_schema


def render(request: Request, schema: dict | None, with_system: bool, schema_flag: bool = False) -> str:
    """The call as one prompt: instructions, the conversation so far, and how to answer."""
    parts = [f"# Instructions\n\n{request.system}"] if with_system and request.system else []
    parts.append("# Conversation so far")
    for message in request.messages:
        if message.role == "tool":
            parts.append(f"## Result of tool call {message.tool_call_id}\n\n{message.content}")
            continue
        calls = "".join(f"\n\n[called tool {c.name} (id {c.id}) with {json.dumps(c.arguments)}]"
                        for c in message.tool_calls)
        parts.append(f"## {message.role}\n\n{message.content}{calls}")
    parts.append(_how_to_answer(request, schema, schema_flag))
    return "\n\n".join(parts) + "\n"


def _how_to_answer(request: Request, schema: dict | None, schema_flag: bool) -> str:
    if offered := callable_tools(request):
        tools = "\n".join(f"- {t.name}: {t.description} Arguments: {json.dumps(t.parameters)}" for t in offered)
        ask = ("# Your answer\n\nAnswer as the assistant. You may call these tools (they are run for you, "
               f"and their results come back in the next message):\n{tools}\n\nAnswer with a JSON object: "
               '{"text": "...", "tool_calls": [{"name": "...", "arguments": "<the arguments as a JSON object>"}]}')
        return ask + ("" if schema_flag else f"\nIts JSON schema: {json.dumps(schema)}")
    if schema is not None:
        return "# Your answer\n\nAnswer as the assistant with only a JSON object" + (
            "." if schema_flag else f" matching this JSON schema:\n{json.dumps(schema)}")
    return "# Your answer\n\nAnswer as the assistant."


class ToolAnswer(BaseModel):
    """What a CLI is asked to answer with when tools are offered (found in prose or fences too)."""

    text: str = ""
    tool_calls: list[Any] = Field(default_factory=list)


def finish(response: Response, request: Request, schema: dict | None) -> Response:
    """Put the CLI's JSON answer into data, or into tool calls when tools were offered."""
    if schema is None:
        return response
    obj = response.data or json_object(response.text)
    if not callable_tools(request):
        return response.model_copy(update={"data": obj, "text": response.text or json.dumps(obj or {})})
    try:
        answer = answers.parse(ToolAnswer, response.model_copy(update={"data": obj}))
    except ValueError:
        answer = ToolAnswer(text=response.text)
    asked = [c for c in answer.tool_calls if isinstance(c, dict)]
    calls = [ToolCall(id=f"cli-{request.turn}-{i}", name=str(c.get("name", "")),
                      arguments=_arguments(c.get("arguments"))) for i, c in enumerate(asked)]
    return response.model_copy(update={"data": None, "text": answer.text, "tool_calls": calls,
                                       "stop_reason": "tool_use" if calls else response.stop_reason,
                                       "finish": "tool_calls" if calls else response.finish})


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {"_unparsed_arguments": raw}
    return value if isinstance(value, dict) else {"_unparsed_arguments": raw}


def _last_json(out: str) -> dict[str, Any] | None:
    """The CLI's JSON document: the whole output, or its last JSON line (after any log noise)."""
    whole = json_object(out)
    if whole is not None:
        return whole
    lines = json_lines(out)
    return lines[-1] if lines else None
