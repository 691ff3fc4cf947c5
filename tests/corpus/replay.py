"""A replay model: a loopback OpenAI Chat Completions server that answers like a competent model
would for one corpus project (tests/corpus/projects.yaml), so the whole pipeline can run on a
real repository through the `openai-compatible:` provider.

It reads each request the way a model does (system prompt, messages, tools, response_format)
to tell which step is asked: a triage brief, LLD or spec draft, a review verdict, a revision as
search/replace edits, or an implementer turn with tools. It answers from the project's data:
the issue, the buggy file, the fix, the new test and the behaviour that must stay the same.
Answers are shaped as real models shape them: prose around fenced JSON, documents sometimes in
a ```markdown fence, tool arguments with ./ paths and pretty-printed JSON.

A `Variant` picks the rough edges a test wants: documents in fences, one truncated answer (finish
reason "length", then a good answer to the retry), a refusal (until `refuse` is cleared), one
REVISE round, a kept-behaviour criterion mapped to an existing test, a code reviewer's adversarial
test. Requests, tokens and the
tokens that repeat the prefix of an earlier call to the same model (a provider's cache serves one
model) are counted per step (`stats`, `calls`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.corpus.fetch import Project
from tests.llm.fakes import openai
from tests.llm.fakes.server import FakeServer, Recorded, Reply

CHARS_PER_TOKEN = 4
MODEL = "replay-1"
_KIND = re.compile(r"(?:writing|reviewer of) an? (issue brief|low-level design|implementation spec)")
KINDS = {"issue brief": "triage", "low-level design": "lld", "implementation spec": "spec"}
CODE_REVIEWER = "demanding reviewer of a code change"
"""The code review stage's system prompt; its verdict is answered like a document review's."""
RED_MARKERS = ("Phase 1 of 2", "The tests are not ready yet")
GREEN_MARKERS = ("Phase 2 of 2", "Implement the spec so that", "The tests do not pass yet")


@dataclass
class Variant:
    """The rough edges of one test's replay model."""

    fenced: bool = False
    """Documents wrapped in a ```markdown fence (structured answers are always prose + fenced JSON)."""
    truncate: str | None = None
    """A step (e.g. "spec.draft") whose first answer is cut off at max_tokens."""
    refuse: str | None = None
    """A step refused for as long as this is set (clear it to let a re-run finish)."""
    revise: str | None = None
    """A document kind (triage, lld, spec) whose first review asks for one revision."""
    kept_behaviour: bool = False
    """The brief has a second criterion, behaviour that must stay the same, mapped to an existing test."""
    adversarial: dict | None = None
    """A test file the code reviewer writes to break the change ({path, content}), with its approval."""


@dataclass
class StepStats:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class Call:
    step: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass
class Answer:
    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    finish: str | None = None
    refusal: str = ""


# -- reading a request -----------------------------------------------------------------------

def _content(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def classify(body: dict) -> str:
    """The step a request asks for: triage.draft, lld.review, spec.revise, impl.red, impl.green,
    review.review (the code review)…"""
    messages = body.get("messages", [])
    if body.get("tools") and body.get("tool_choice") != "none":
        return f"impl.{_phase(messages)}"
    role = role_of(messages)
    if CODE_REVIEWER in role:
        return "review.review"
    kind = _KIND.search(role)
    if kind is None:
        return "unknown"
    name = KINDS[kind.group(1)]
    if "demanding reviewer" in role:
        return f"{name}.review"
    last = _content(messages[-1]) if messages else ""
    if last.startswith("Write the") or "Answer with the complete revised Markdown" in last:
        return f"{name}.draft"
    return f"{name}.revise"


def shown(given: str, file: Path) -> bool:
    """Whether the conversation already shows the file whole (a competent model does not read it
    again; an excerpt is not enough)."""
    return file.is_file() and file.read_text(encoding="utf-8") in given


def role_of(messages: list[dict]) -> str:
    """The role a request gives the model: the system prompt or, after the run's shared prefix,
    the message that says who the model is."""
    said = [_content(m) for m in messages if m.get("role") in ("system", "user")]
    return next((text for text in reversed(said)
                 if text.startswith("You are a") and (_KIND.search(text) or CODE_REVIEWER in text)), "")


def _phase(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        text = _content(message)
        if any(m in text for m in GREEN_MARKERS):
            return "green"
        if any(m in text for m in RED_MARKERS):
            return "red"
    return "red"


def turns_since_task(messages: list[dict]) -> tuple[str, int]:
    """(the latest task the implementer was given, how many replies it has made since)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            replies = sum(1 for m in messages[i + 1:] if m.get("role") == "assistant")
            return _content(messages[i]), replies
    return "", 0


def issue_number(body: dict) -> int:
    found = re.search(r'name="issue #(\d+)"', json.dumps(body))
    return int(found.group(1)) if found else 1


def revision_inputs(body: dict) -> tuple[str, list[str]]:
    """(the current draft, the ids of the findings) a revision request quotes."""
    text = "\n".join(_content(m) for m in body.get("messages", []))
    draft = re.search(r'<data name="current [^"]*">\n(.*?)\n</data>', text, re.DOTALL)
    block = re.search(r'<data name="findings">\n(.*?)\n</data>', text, re.DOTALL)
    findings = re.findall(r"^- (\S+) \[", block.group(1), re.MULTILINE) if block else []
    return (draft.group(1) if draft else ""), findings


def tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def prompt_text(body: dict) -> str:
    """A request's input as one string, in the order a provider's prefix cache sees it: the tools,
    then the messages. The answer's schema is in the messages (agentos asks for it in the prompt,
    for every provider); `response_format` goes only to OpenAI-compatible servers, which apply it
    as constrained decoding outside the prompt tokens their caches key on, so it is left out."""
    parts = [json.dumps(body.get("tools", []), sort_keys=True)]
    for m in body.get("messages", []):
        parts.append(f"<{m.get('role')}>{_content(m)}{json.dumps(m.get('tool_calls') or '')}")
    return "".join(parts)


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n  # binary search on equal prefixes: fast on long prompts
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


# -- the project's answers --------------------------------------------------------------------

class ProjectAnswers:
    """What a competent model writes for this project at each step."""

    def __init__(self, project: Project, repo: Path, variant: Variant):
        self.p = project
        self.d = project.data
        self.repo = repo
        self.v = variant

    @property
    def test_file(self) -> str:
        return self.d["new_test"]["file"]

    def test_file_exists(self) -> bool:
        return (self.repo / self.test_file).is_file()

    def expectation(self) -> str:
        body = self.d["issue"]["body"]
        found = [ln.strip() for ln in body.splitlines() if re.match(r"\s*(Expected|Actual)\b", ln)]
        return " ".join(found) or self.d["issue"]["title"]

    def criteria(self) -> list[str]:
        title = self.d["issue"]["title"]
        first = (f"The reproduction in the issue gives the expected result ({self.expectation()}), "
                 f"so that \"{title}\" no longer happens; a regression test shows it.")
        if not self.v.kept_behaviour:
            return [first]
        return [first, f"Behaviour that must stay the same: {self.d['kept_behaviour']['what']}."]

    def brief(self, n: int) -> str:
        title = self.d["issue"]["title"]
        items = "\n".join(f"{i}. {c}" for i, c in enumerate(self.criteria(), 1))
        return (f"# Issue brief: {title} (#{n})\n\n## Problem\n"
                f"Users of {self.p.name} {self.p.version} report: {title}. {self.expectation()}\n\n"
                f"## Scope\nCorrect the faulty logic in `{self.p.fix.file}` and add a regression test.\n"
                "**Non-goals:** no change to the public API, no unrelated refactoring.\n\n"
                f"## Acceptance criteria\n{items}\n\n## Open questions\nNone.\n\n## Kind\nbug\n\n"
                "## Size\nS: a small change in one function, with one new test.\n")

    def lld(self, n: int) -> str:
        title, fix = self.d["issue"]["title"], self.p.fix
        change = "modify" if self.test_file_exists() else "add"
        rows = ["| T1 | the reproduction from the issue | unit | fails before the fix, passes after | AC1 |"]
        if self.v.kept_behaviour:
            rows.append(f"| T2 | existing {self.d['kept_behaviour']['test']} | unit | keeps passing | AC2 |")
        plan = "\n".join(rows)
        return (f"# Low-level design: {title} (#{n})\n\n## Context and goal\n{self.expectation()} "
                f"The goal is to restore the documented behaviour in `{fix.file}`.\n\n"
                "## Files changed\n| Path | Change | Why |\n|------|--------|-----|\n"
                f"| {fix.file} | modify | the faulty logic lives here |\n"
                f"| {self.test_file} | {change} | regression test for the issue |\n\n"
                "## Data structures\nNone change.\n\n## Interfaces\nNo signature changes; only the "
                f"behaviour of the code in `{fix.file}` is corrected.\n\n## Logic flow\n"
                f"Replace the faulty line{'s' if fix.search.count(chr(10)) > 1 else ''}:\n\n"
                f"{self.code(fix.search)}\nwith:\n\n{self.code(fix.replace)}\n"
                "## Alternatives considered\nWorking around it in callers: rejected, the bug is here.\n\n"
                "## Security\nNo impact: no input handling or privileges change.\n\n"
                "## Performance\nNo measurable change.\n\n"
                f"## Test plan\n| ID | Scenario | Type | Expected result | Criterion |\n"
                f"|----|----------|------|-----------------|-----------|\n{plan}\n\n"
                "## Risks\nLow: the change is local and covered by the existing suite.\n\n"
                "## Definition of done\nThe new regression test passes and the whole suite stays green.\n")

    def spec(self, n: int) -> str:
        title, fix, new = self.d["issue"]["title"], self.p.fix, self.d["new_test"]
        how = "append this test to it" if self.test_file_exists() else "create it with this test"
        rows = [f"| AC1 | `{new['id']}` |"]
        if self.v.kept_behaviour:
            rows.append(f"| AC2 | `{self.d['kept_behaviour']['test']}` (already in the suite, keeps passing) |")
        mapping = "\n".join(rows)
        return (f"# Implementation spec: {title} (#{n})\n\n## Overview\nFix the faulty logic in "
                f"`{fix.file}` and add a regression test for the issue.\n\n## Changes\n"
                f"### {fix.file}\nCurrent:\n{self.code(fix.search)}\nChange: replace it with\n"
                f"{self.code(fix.replace)}\n### {self.test_file}\nChange: {how}:\n{self.code(new['code'])}\n"
                "## Function specifications\nThe changed code keeps its signature. Input: the "
                f"reproduction from the issue; output: {self.expectation()}\n\n"
                f"## Test mapping\n| Criterion | Test |\n|-----------|------|\n{mapping}\n\n"
                "## Dependencies\nNone.\n")

    def code(self, text: str) -> str:
        """A code block: fenced, or indented inside a document that is itself fenced."""
        lang = "javascript" if self.p.source == "npm" else "python"
        if self.v.fenced:
            return "".join(f"    {ln}\n" if ln.strip() else "\n" for ln in text.rstrip("\n").split("\n")) + "\n"
        return f"```{lang}\n{text.rstrip(chr(10))}\n```\n\n"

    def document(self, kind: str, n: int) -> str:
        text = {"triage": self.brief, "lld": self.lld, "spec": self.spec}[kind](n)
        if self.v.fenced:
            return f"Here is the {kind} document.\n\n```markdown\n{text}```\n"
        return text

    def revision_finding(self) -> dict:
        return {"id": "R1", "section": "Risks", "severity": "major",
                "text": "Say which existing tests guard the behaviour around the change."}

    def revision(self, draft: str, findings: list[str]) -> dict:
        """Edits for the findings: the reviewer's point on risks, or a fenced draft unwrapped (what
        a model does when told its sections are missing)."""
        fence = re.match(r"(?s)(.*?```markdown\n).*?(\n```\n?)\s*$", draft)
        if fence and not findings == ["R1"]:
            return {"edits": [{"search": fence.group(1), "replace": ""},
                              {"search": fence.group(2), "replace": "\n"}], "addressed": findings}
        search = "## Risks\nLow: the change is local and covered by the existing suite."
        return {"edits": [{"search": search, "replace": search + " The existing tests of "
                           f"`{self.p.fix.file}` keep guarding the behaviour around it."}],
                "addressed": findings}


def fenced_json(obj: dict, before: str, after: str = "") -> str:
    return f"{before}\n\n```json\n{json.dumps(obj, indent=2)}\n```\n" + (f"\n{after}\n" if after else "")


def tail_anchor(text: str) -> str:
    """The shortest run of the file's last lines that occurs exactly once in it."""
    lines = text.splitlines(keepends=True)
    for k in range(2, len(lines) + 1):
        anchor = "".join(lines[-k:])
        if anchor.strip() and text.count(anchor) == 1:
            return anchor
    return text


def _call(name: str, **arguments: Any) -> dict:
    raw = json.dumps(arguments, indent=2)  # pretty-printed, as some models send them
    ident = "call_" + hashlib.sha256(f"{name}{raw}".encode()).hexdigest()[:16]
    return {"id": ident, "name": name, "arguments": raw}


class Implementer:
    """The implementer's turns: read, write the test (red) or the fix (green), finish."""

    def __init__(self, answers: ProjectAnswers):
        self.a = answers

    def turn(self, phase: str, messages: list[dict]) -> Answer:
        task, done = turns_since_task(messages)
        given = "\n".join(_content(m) for m in messages if m.get("role") == "user")
        if phase == "red" and "Phase 1 of 2" in task:
            plan = self.red(given)
        elif phase == "green" and ("Phase 2 of 2" in task or "Implement the spec so that" in task):
            plan = self.green(given)
        else:  # a rejected round or a fix round: the work is already done as well as it can be
            plan = [Answer("The change is in place; running the checks again.",
                           [_call("finish", summary="no further change needed")])]
        return plan[min(done, len(plan) - 1)]

    def red(self, given: str) -> list[Answer]:
        a, new = self.a, self.a.d["new_test"]
        path = f"./{a.test_file}"
        if a.test_file_exists():
            base = (a.repo / a.test_file).read_text(encoding="utf-8")
            old = tail_anchor(base)
            sep = "" if old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
            look = _call("read_file", path=path)
            write = _call("replace_in_file", path=path, old=old, new=old + sep + new["code"])
        else:
            look = _call("list_dir", path="./" + (str(Path(a.test_file).parent) if "/" in a.test_file else ""))
            write = _call("write_file", path=path, content=new["code"])
        steps = [] if shown(given, a.repo / a.test_file) else [Answer("I'll look at the existing tests first.", [look])]
        return [*steps, Answer(f"Adding the regression test {new['id']}.", [write]),
                Answer("", [_call("finish", summary=f"added {new['id']}, which fails on the current code")])]

    def green(self, given: str) -> list[Answer]:
        fix = self.a.p.fix
        path = f"./{fix.file}"
        steps = [] if shown(given, self.a.repo / fix.file) else [Answer("", [_call("read_file", path=path)])]
        return [*steps, Answer("The faulty line is clear; fixing it.",
                       [_call("replace_in_file", path=path, old=fix.search, new=fix.replace)]),
                Answer("Done: the fix is in place.", [_call("finish", summary=f"fixed {fix.file}")])]


# -- the server -------------------------------------------------------------------------------

class ReplayServer(FakeServer):
    """The OpenAI-compatible fake, answering each request from the project's data."""

    def __init__(self, project: Project, repo: Path, variant: Variant | None = None):
        super().__init__(lambda request: openai._check(request, None, "/v1"))
        self.variant = variant or Variant()
        self.answers = ProjectAnswers(project, repo, self.variant)
        self.implementer = Implementer(self.answers)
        self.stats: dict[str, StepStats] = {}
        self.calls: list[Call] = []
        self.truncated: dict[str, int] = {}
        """Step → the max_tokens of the request whose answer was cut off."""
        self._prompts: dict[str, list[str]] = {}
        """Each model's prompts so far: a provider's prompt cache serves one model."""
        self._reviews: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reply_for(self, request: Recorded) -> Reply:
        body = request.body
        step = classify(body)
        try:
            answer = self.answer(step, body)
        except Exception as exc:  # a replay bug: tell the client, as a server error
            return openai.error(500, f"replay model: {step}: {exc!r}", "server_error", "server_error")
        return self._streamed(step, body, answer)

    def answer(self, step: str, body: dict) -> Answer:
        kind, _, what = step.partition(".")
        if step == self.variant.refuse:
            return Answer(refusal="I can't help with that request.")
        room = body.get("max_tokens") or 0
        if step == self.variant.truncate and room <= self.truncated.setdefault(step, room):
            full = self._answer(kind, what, body)  # cut off until asked with more room
            return Answer(text=full.text[: len(full.text) // 3], finish="length")
        return self._answer(kind, what, body)

    def _answer(self, kind: str, what: str, body: dict) -> Answer:
        a, n = self.answers, issue_number(body)
        if kind == "impl":
            return self.implementer.turn(what, body.get("messages", []))
        if what == "draft":
            return Answer(a.document(kind, n))
        if what == "review":
            return Answer(self._review(kind))
        if what == "revise":
            draft, findings = revision_inputs(body)
            return Answer(fenced_json(a.revision(draft, findings), "Here are the edits for the findings:",
                                      "The rest of the document stays as it is."))
        raise ValueError(f"no answer for step {kind}.{what}")

    def _review(self, kind: str) -> str:
        seen = self._reviews[kind] = self._reviews.get(kind, 0) + 1
        if kind == self.variant.revise and seen == 1:
            verdict = {"verdict": "REVISE", "summary": "Nearly there; one point to settle.",
                       "findings": [self.answers.revision_finding()]}
        elif kind == "review" and self.variant.adversarial and seen == 1:
            verdict = {"verdict": "APPROVED", "summary": "The change does what the spec asks; two edge cases to pin.",
                       "findings": [], "adversarial_tests": [
                           {**self.variant.adversarial, "expects": "runs of delimiters and delimiters at both ends"}]}
        else:
            verdict = {"verdict": "APPROVED", "summary": "Clear, complete and consistent with the issue.",
                       "findings": []}
        return fenced_json(verdict, "I reviewed the document against the issue and the template.",
                           "Verdict as JSON above.")

    def _streamed(self, step: str, body: dict, answer: Answer) -> Reply:
        prompt = prompt_text(body)
        earlier = self._prompts.setdefault(str(body.get("model")), [])
        shared = max((common_prefix(prompt, p) for p in earlier), default=0)
        earlier.append(prompt)
        out = answer.refusal or answer.text + "".join(c["arguments"] for c in answer.tool_calls)
        use = openai.usage(tokens(prompt), tokens(out) if out else 1, shared // CHARS_PER_TOKEN)
        stats = self.stats.setdefault(step, StepStats())
        stats.requests += 1
        stats.prompt_tokens += use["prompt_tokens"]
        stats.completion_tokens += use["completion_tokens"]
        stats.cached_tokens += use["prompt_tokens_details"]["cached_tokens"]
        self.calls.append(Call(step, use["prompt_tokens"], use["prompt_tokens_details"]["cached_tokens"],
                               use["completion_tokens"]))
        return openai.stream(answer.text, answer.tool_calls or None, use, model=MODEL, finish=answer.finish,
                             refusal=answer.refusal)

    # -- figures ----------------------------------------------------------------------------

    def cached_share(self) -> float:
        """The share of all input tokens that repeat the prefix of an earlier call to the same model."""
        total = sum(c.prompt_tokens for c in self.calls)
        return sum(c.cached_tokens for c in self.calls) / total if total else 0.0

    def implementation_prompts(self) -> list[int]:
        return [c.prompt_tokens for c in self.calls if c.step.startswith("impl.")]


def config(base_url: str, **stages: Any) -> dict:
    """The target's .agentos/config.yaml: every model behind the replay server, no gate before the PR."""
    # As the defaults pair them: the model that drafts also implements; another one reviews.
    doc = {"drafter": "openai-compatible:replay-writer", "reviewer": "openai-compatible:replay-reviewer"}
    cfg = {"stages": {"triage": dict(doc), "lld": dict(doc), "spec": dict(doc),
                      "implementation": {"implementer": "openai-compatible:replay-writer",
                                         "max_test_retries": 1, "test_timeout_s": 300}},
           "gates": {"before_pr": False},
           "providers": {"openai-compatible": {"base_url": base_url, "max_output_tokens": 32000,
                                               "max_attempts": 1, "timeout_s": 120}}}
    for stage, values in stages.items():
        cfg["stages"].setdefault(stage, {}).update(values)
    return {"orchestrator": cfg}
