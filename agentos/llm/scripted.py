"""A deterministic model that answers from a script, for tests and the demo.

A script maps a request's `purpose` (e.g. "lld.review", or a glob such as "*.review") to a
list of replies; the request's `turn` picks the reply. Because the choice depends only on the
request, a resumed process answers exactly as the killed one would have.

    replies:
      lld.draft:
        - text: "# LLD ..."
      lld.review:
        - data: {verdict: REVISE, summary: "...", findings: [...]}
        - data: {verdict: APPROVED, summary: "...", findings: []}
      impl.step:
        - tool_calls: [{name: write_file, arguments: {path: a.py, content: "..."}}]

A reply may also be `error: "message"` to simulate a failed call, and may carry `delay_s` to
simulate a model's latency and `cost_usd` to simulate what it cost. `cases:` answer some requests
differently: `- {match: REGEX, replies: {...}}` replies for the purposes it names when REGEX is
found in the prompt (e.g. one issue's title), the top-level replies for the rest. Answers as real models give them can be played too:

      lld.draft:
        - text: "# LLD (cut off mid-sen"
          stop: length            # truncated at max_tokens: asked again as lld.draft.longer
      lld.draft.longer:
        - text: "# LLD ... (whole)"   # with twice the max_tokens (up to 128,000, this model's limit)
      lld.review:
        - refusal: "I can't help with that."   # a refusal, in the model's words
      spec.review:
        - text: "Here is my review:\n```json\n{...}\n```\nHope it helps."   # JSON in prose and fences
      spec.draft:
        - text: "x"
          repeat: 10000000        # the text repeated: an answer longer than max_tokens can hold

`stop` is how the answer ended, one of stop, length, refusal, tool_calls, other (default: tool_calls
when there are tool calls, else stop). Every request received is appended to `scripted-calls.jsonl`
in the run folder, so tests can see what was really sent.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any, Callable, Mapping, get_args

import yaml

from agentos.errors import ModelCallError, ProviderConfigError
from agentos.files import append_line
from agentos.llm.base import Finish, Request, Response, ToolCall, Usage

Reply = Mapping[str, Any]
Script = Mapping[str, list[Reply]] | Callable[[Request], Reply]
FINISHES: tuple[Finish, ...] = get_args(Finish)
STOP_REASONS: dict[str, str] = {"length": "max_tokens", "refusal": "refusal", "tool_calls": "tool_use",
                                "other": "other"}
"""The provider's own word for each finish, as Anthropic says it ("end_turn" for the rest)."""


def request_digest(request: Request) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:16]


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedProvider:
    max_output = 128_000
    """As a large model's: a truncated (`stop: length`) reply is retried with twice the room."""

    def __init__(self, model_id: str, script: Script, log_path: Path | None = None, source: str = ""):
        self.model_id = model_id
        self.script = script
        self.log_path = log_path
        self.source = source or "the script"
        self.calls: list[Request] = []

    @classmethod
    def from_model_id(cls, model_id: str, name: str, ctx: Any) -> ScriptedProvider:
        path = _script_path(name, ctx.repo_root)
        log = ctx.run_dir / "scripted-calls.jsonl" if ctx.run_dir else None
        replies, cases = load_script(path)
        made = cls(model_id, replies, log, str(path))
        if cases:
            made.script = lambda request: made._from(_case_for(cases, request, replies), request)
        return made

    @classmethod
    def readiness(cls, name: str, ctx: Any) -> str | None:
        path = _script_path(name, ctx.repo_root, must_exist=False)
        return None if path.exists() else f"script file {path} not found"

    def complete(self, request: Request) -> Response:
        self.calls.append(request)
        self._log(request)
        reply = self._pick(request)
        if reply.get("delay_s"):
            time.sleep(float(reply["delay_s"]))
        if "error" in reply:
            raise ModelCallError(f"{self.model_id}: {reply['error']}")
        return self._response(request, reply)

    def _pick(self, request: Request) -> Reply:
        if callable(self.script):
            return self.script(request)
        return self._from(self.script, request)

    def _from(self, replies: Mapping[str, list[Reply]], request: Request) -> Reply:
        """The reply for the request's purpose (exact, else the first matching glob) and turn."""
        found = replies.get(request.purpose)
        if found is None:
            found = next((v for k, v in replies.items() if fnmatch.fnmatchcase(request.purpose, k)), None)
        if not found:
            raise ModelCallError(
                f"{self.model_id}: {self.source} has no replies for {request.purpose!r}",
                "add a list of replies under that purpose in the script",
            )
        if request.turn >= len(found):
            raise ModelCallError(
                f"{self.model_id}: {self.source} has {len(found)} replies for "
                f"{request.purpose!r}, but turn {request.turn + 1} was asked for",
                "add more replies, or lower the loop's limits",
            )
        return found[request.turn]

    def _response(self, request: Request, reply: Reply) -> Response:
        data = reply.get("data")
        text = reply.get("refusal") or reply.get("text") or (json.dumps(data) if data is not None else "")
        text *= int(reply.get("repeat", 1))
        calls = [
            ToolCall(id=f"call_{request.turn}_{i}", name=c["name"], arguments=c.get("arguments", {}))
            for i, c in enumerate(reply.get("tool_calls", []))
        ]
        finish = self._finish(reply, bool(calls))
        prompt = request.system + "".join(m.content for m in request.messages)
        usage = Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(text or "x"))
        return Response(
            text=text,
            data=data,
            tool_calls=calls,
            usage=usage,
            model=self.model_id,
            request_id=f"scripted-{request_digest(request)}",
            cost_usd=float(reply.get("cost_usd", 0.0)),
            stop_reason=STOP_REASONS.get(finish, "end_turn"),
            finish=finish,
        )

    def _finish(self, reply: Reply, has_calls: bool) -> Finish:
        if "refusal" in reply:
            return "refusal"
        finish = reply.get("stop") or ("tool_calls" if has_calls else "stop")
        if finish not in FINISHES:
            raise ProviderConfigError(f"{self.source}: `stop: {finish}` is not one of {', '.join(FINISHES)}")
        return finish

    def _log(self, request: Request) -> None:
        if self.log_path is None:
            return
        record = {
            "model": self.model_id,
            "purpose": request.purpose,
            "turn": request.turn,
            "digest": request_digest(request),
            "system": request.system,
            "messages": [m.model_dump(exclude_defaults=True) for m in request.messages],
            "cache_after": request.cache_after,
            "tools": [t.name for t in request.tools],
            "use_tools": request.use_tools,
        }
        append_line(self.log_path, json.dumps(record))


def _script_path(name: str, repo_root: Path, must_exist: bool = True) -> Path:
    path = Path(name)
    if not path.is_absolute():
        path = repo_root / path
    if must_exist and not path.exists():
        raise ProviderConfigError(
            f"scripted model script {path} not found",
            "use scripted:PATH with a YAML or JSON script, relative to the repository root",
        )
    return path


def load_script(path: Path) -> tuple[dict[str, list[Reply]], list[tuple[re.Pattern, dict[str, list[Reply]]]]]:
    """(replies by purpose, cases): a case's replies answer the purposes it names when its `match`
    (a regular expression) is found in the request's prompt."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ProviderConfigError(f"scripted model script {path} is not valid YAML/JSON: {exc}") from None
    replies = doc.get("replies") if isinstance(doc, dict) else None
    if not _is_replies(replies):
        raise ProviderConfigError(
            f"scripted model script {path} must have `replies:` mapping each purpose to a list"
        )
    cases = doc.get("cases") or []
    if not isinstance(cases, list) or not all(isinstance(c, dict) and isinstance(c.get("match"), str)
                                              and _is_replies(c.get("replies")) for c in cases):
        raise ProviderConfigError(f"scripted model script {path}: `cases:` must be a list of {{match, replies}}",
                                  "match: a regular expression found in the prompt; replies: as the top-level ones")
    return replies, [(re.compile(c["match"]), {**replies, **c["replies"]}) for c in cases]


def _is_replies(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, list) for v in value.values())


def _case_for(cases: list[tuple[re.Pattern, dict[str, list[Reply]]]], request: Request,
              replies: dict[str, list[Reply]]) -> dict[str, list[Reply]]:
    """The replies of the first case found in the prompt, else the script's own."""
    prompt = request.system + "\n".join(m.content for m in request.messages)
    return next((r for pattern, r in cases if pattern.search(prompt)), replies)
