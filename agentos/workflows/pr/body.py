"""The pull request body a maintainer wants to review, built from the run's artifacts.

Sections: what changed and why (the spec's overview, the LLD's goal), files changed, how it
was tested (command, counts, red → green evidence from the implementation's test report), the
design documents on the branch, the reviewers' verdicts with unresolved findings, models and
cost, and `Closes #N`. When the repository has a pull request template, the body follows its
headings: each of ours goes under the template heading that asks for it, the template's other
headings keep their own text, and what has no place is appended.

Every text that came from the issue, a model or a reviewer goes through `agentos.markdown.escape`,
so it cannot break the body's structure, close other issues or mention people. No local path
reaches the body: commands are shown relative to the worktree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentos.markdown.escape import code, inline, quote
from agentos.markdown.parse import headings, lines_of
from agentos.progress.view import plural
from agentos.readmodel.model import gate_label

TEMPLATE_NAMES = ("pull_request_template.md",)
TEMPLATE_DIRS = (".github", "", "docs")
MAX_FILES = 200
MAX_FINDINGS = 10
MAX_TESTS = 20

TITLES = {
    "summary": "What changed and why",
    "files": "Files changed",
    "testing": "How it was tested",
    "design": "Design documents",
    "reviews": "Reviews",
    "models": "Models and cost",
    "closes": "Issue",
}
# Template heading → our section, first match wins; headings matching none keep the template's text.
HEADING_KEYS = [
    ("testing", r"test|verif|\bqa\b|how has this been"),
    ("files", r"\bfiles?\b"),
    ("design", r"design|documentation|\bdocs?\b|\bspec"),
    ("reviews", r"review"),
    ("models", r"\bmodels?\b|\bcost|\bai\b|\bagent"),
    ("closes", r"related|\bissues?\b|ticket|closes|fixes|\blinks?\b"),
    ("summary", r"summar|descri|what|why|motivat|context|overview|purpose|background|proposed|^changes?$"),
]


@dataclass
class PRFacts:
    """Everything the body says, gathered from the run (see `graph.gather_facts`)."""

    issue: int
    branch: str
    what: str = ""
    why: str = ""
    changed: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    """The implementation's test-report.json, when it wrote one."""
    test_run: dict[str, Any] | None = None
    docs: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(name, path on the branch, web link or None)."""
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_review: dict[str, Any] | None = None
    """The code review's result (see orchestrator.stages.review_runner), when it ran."""
    models: list[tuple[str, str, int, float]] = field(default_factory=list)
    """(stage, model ids, calls, cost)."""
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """People's gate decisions: gate, action, by, feedback, overrides."""
    worktree: str = ""
    sandbox: str = ""
    """The configured sandbox backend (auto, bubblewrap, off); empty when unknown."""


def build_body(facts: PRFacts, template: str | None = None) -> str:
    parts = {key: render(facts) for key, render in RENDERERS.items()}
    body = follow_template(template, parts) if template and headings(template) else _default(parts)
    return body.rstrip("\n") + "\n"


def _default(parts: dict[str, list[str]]) -> str:
    lines: list[str] = []
    for key in TITLES:
        if key == "closes":
            continue
        lines += [f"## {TITLES[key]}", "", *parts[key], ""]
    return "\n".join(lines + parts["closes"])


# ------------------------------------------------------------------ sections


def _summary(f: PRFacts) -> list[str]:
    lines = ["**What**", "", quote(f.what), ""] if f.what.strip() else ["See the design documents below.", ""]
    return lines + (["**Why**", "", quote(f.why)] if f.why.strip() else [])


def _files(f: PRFacts) -> list[str]:
    shown = [f"- {code(path)}" for path in f.changed[:MAX_FILES]] or ["- (no files changed)"]
    extra = len(f.changed) - MAX_FILES
    return shown + ([f"- … and {extra} more"] if extra > 0 else [])


def _testing(f: PRFacts) -> list[str]:
    report = f.report or {}
    final = report.get("final") or f.test_run or {}
    if not final:
        return ["No test run was recorded for this pull request."]
    lines = [f"- Command: {code(_relative(final.get('command', ''), f.worktree))}",
             f"- Result: **{inline(_counts(final))}**", *_sandbox(f)]
    if (report.get("baseline") or {}).get("summary"):
        base = str(report.get("fork_sha") or "")[:12]
        lines.append(f"- Before the change (base {code(base) if base else 'commit'}): {inline(report['baseline']['summary'])}")
    return lines + _red_green(report) + _required(report)


def _sandbox(f: PRFacts) -> list[str]:
    if f.sandbox == "off":
        return ["- **Not sandboxed** (`sandbox: off`): the model-written code ran with the user's environment, "
                "files and network"]
    if not f.sandbox:
        return []
    return ["- Sandbox: bubblewrap (no network, no secrets, nothing writable outside the worktree)"]


def _red_green(report: dict[str, Any]) -> list[str]:
    red, rounds = report.get("red_tests") or [], report.get("rounds") or []
    if not red and not rounds:
        return ["", "No red → green record: the tests were not seen failing before the change."]
    lines = ["", "**Red → green**", ""]
    if red:
        lines.append("- 🔴 Written first and seen failing on the unchanged code: "
                     + ", ".join(code(t) for t in red[:MAX_TESTS]) + (" …" if len(red) > MAX_TESTS else ""))
    for item in rounds:
        lines.append(f"- {inline(item.get('label', ''))}: {inline(item.get('summary', ''))} → {inline(item.get('action', ''))}")
    final = report.get("final") or {}
    if final:
        mark = "🟢" if not (final.get("failed") or final.get("errors")) else "🔴"
        lines.append(f"- {mark} Final run: {inline(final.get('summary') or _counts(final))}")
    for title, key in (("Regressions", "regressions"), ("Already failing at the base (not caused here)", "preexisting")):
        if report.get(key):
            lines.append(f"- {title}: " + ", ".join(code(t) for t in report[key][:MAX_TESTS]))
    return lines


def _required(report: dict[str, Any]) -> list[str]:
    required = report.get("required") or {}
    if not required:
        return []
    passing = sum(status == "passed" for status in required.values())
    lines = ["", f"Tests the spec asked for: {passing}/{len(required)} passing", ""]
    return lines + [f"- {code(test)}: {inline(status)}" for test, status in list(required.items())[:MAX_TESTS]]


def _design(f: PRFacts) -> list[str]:
    lines = []
    for name, path, url in f.docs:
        where = f"[{code(path)}]({url})" if url else f"{code(path)} on {code(f.branch)}"
        lines.append(f"- {name}: {where}")
    return lines or ["- (no design documents on the branch)"]


def _reviews(f: PRFacts) -> list[str]:
    reviewed = _code_review(f.code_review)
    if not f.reviews:
        return ["No document was reviewed in this run (approved documents were reused).", *reviewed, *_decisions(f)]
    lines = []
    for stage, info in f.reviews.items():
        history = [h for h in info.get("history") or [] if not h.get("human")]
        last = history[-1] if history else {}
        who = f" by {code(last['reviewer'])}" if last.get("reviewer") else ""
        verdict = last.get("verdict") or info.get("verdict") or "?"
        lines.append(f"- **{inline(stage)}**: {inline(verdict)}{who} after {plural(len(history), 'round')}: "
                     f"{inline(last.get('summary') or info.get('message') or '', 400)}")
        open_items = [x for x in last.get("findings") or [] if x.get("severity") != "blocking"]
        lines += [f"  - unresolved {inline(x.get('severity', ''))} finding {inline(x.get('id', ''))}"
                  + (f" ({inline(x['section'])})" if x.get("section") else "") + f": {inline(x.get('text', ''), 400)}"
                  for x in open_items[:MAX_FINDINGS]]
    return lines + reviewed + _decisions(f)


def _decisions(f: PRFacts) -> list[str]:
    """People's gate decisions: who approved or rejected what, with the feedback given."""
    if not f.decisions:
        return []
    lines = ["", "**Human decisions**", ""]
    for d in f.decisions:
        action = {"approve": "approved", "reject": "rejected"}.get(d.get("action", ""), d.get("action", ""))
        extra = f" ({inline(d['overrides'])})" if d.get("overrides") else ""
        said = f": {inline(d['feedback'], 400)}" if d.get("feedback") else ""
        lines.append(f"- gate {inline(gate_label(d.get('gate')))}: {inline(action)} by {inline(d.get('by', ''))}{extra}{said}")
    return lines


def _code_review(result: dict[str, Any] | None) -> list[str]:
    """The code review: its verdict, the reviewer's tests kept on the branch, the findings left open."""
    if not result:
        return []
    history = result.get("history") or []
    who = f" by {code(history[-1]['reviewer'])}" if history and history[-1].get("reviewer") else ""
    verdict = "APPROVED" if result.get("verdict") == "PASS" else (result.get("verdict_by_reviewer") or "not approved")
    lines = ["", f"**Code review**: {inline(verdict)}{who} after {plural(result.get('rounds') or len(history), 'round')} "
             f"({inline(result.get('exit_reason') or '')}): {inline(result.get('message') or '', 400)}"]
    if (tests := result.get("tests")) and result.get("verdict") == "PASS":
        lines.append(f"- Tests after the code review: **{inline(_counts(tests))}**")
    kept = result.get("kept_tests") or []
    if kept:
        lines.append("- Adversarial tests the reviewer wrote to break the change, kept because they pass: "
                     + ", ".join(code(t["path"]) for t in kept[:MAX_TESTS]))
    for t in [t for t in result.get("adversarial_log") or [] if t.get("status") == "failing"][:MAX_TESTS]:
        lines.append(f"- Adversarial test {code(t['path'])} failed in round {t['round']}; fixed before approval")
    for x in (result.get("unresolved") or [])[:MAX_FINDINGS]:
        where = x.get("file", "") + (f":{x['lines']}" if x.get("lines") else "")
        lines.append(f"- unresolved {inline(x.get('severity', ''))} finding {inline(x.get('id', ''))}"
                     + (f" ({code(where)})" if where else "") + f": {inline(x.get('text', ''), 400)}")
    return lines


def _models(f: PRFacts) -> list[str]:
    lines = [f"- {inline(stage)}: {ids} — {plural(calls, 'call')}, ${cost:.4f}" for stage, ids, calls, cost in f.models]
    total_calls, total = sum(m[2] for m in f.models), sum(m[3] for m in f.models)
    return (lines or ["- (no model calls in this run)"]) + ["", f"Total model cost for this run: ${total:.4f} "
                                                                 f"over {plural(total_calls, 'call')}."]


def _closes(f: PRFacts) -> list[str]:
    return [f"Closes #{f.issue}"]


RENDERERS = {"summary": _summary, "files": _files, "testing": _testing, "design": _design,
             "reviews": _reviews, "models": _models, "closes": _closes}


def _counts(run: dict[str, Any]) -> str:
    text = f"{run.get('passed', 0)} passed, {run.get('failed', 0)} failed, {run.get('errors', 0)} errors"
    return text + (f", {run['skipped']} skipped" if run.get("skipped") else "")


def _relative(command: str, worktree: str) -> str:
    """The command as anyone can run it from the repository root (no local path)."""
    return command.replace(f"{worktree}/", "./").replace(worktree, ".") if worktree else command


# ------------------------------------------------------------------ templates


def find_template(root: Path) -> str | None:
    """The repository's pull request template (any letter case), as GitHub looks for it."""
    for folder in TEMPLATE_DIRS:
        directory = root / folder if folder else root
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.name.lower() in TEMPLATE_NAMES and entry.is_file():
                return entry.read_text(encoding="utf-8", errors="replace")
    return None


def follow_template(template: str, parts: dict[str, list[str]]) -> str:
    """The template with our sections under its matching headings; the rest appended."""
    lines = lines_of(template.rstrip("\r\n"))
    heads = headings(template)
    out, used = lines[: heads[0].line], set()
    for n, (start, _, title) in enumerate(heads):
        end = heads[n + 1].line if n + 1 < len(heads) else len(lines)
        key = _section_for(title, used)
        out.append(lines[start])
        out += ["", *parts[key], ""] if key else lines[start + 1:end]
        used.add(key)
    for key in TITLES:
        if key not in used and key != "closes":
            out += ["", f"## {TITLES[key]}", "", *parts[key]]
    if "closes" not in used:
        out += ["", *parts["closes"]]
    return "\n".join(out)


def _section_for(title: str, used: set[str | None]) -> str | None:
    low = title.lower()
    for key, pattern in HEADING_KEYS:
        if key not in used and re.search(pattern, low):
            return key
    return None
