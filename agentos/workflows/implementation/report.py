"""Commit messages, and the record the stage leaves in the run folder for the PR step.

The red commit carries one `Agentos-Red-Test:` trailer per test seen failing on the base
code, so a later run (a fix after a rejected gate, a re-run after a block) knows the tests
already came first and which they are, from the branch itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agentos.markdown.escape import cell
from agentos.redact import redact
from agentos.workflows.implementation.verdict import Judgement

RED_TRAILER = "Agentos-Red-Test"
_TRAILER_LINE = re.compile(rf"^{RED_TRAILER}: (.+)$", re.MULTILINE)


def short_title(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return (line[: limit - 1] + "…") if len(line) > limit else line


def red_message(title: str, issue: int, judgement: Judgement) -> str:
    trailers = [f"{RED_TRAILER}: {t}" for t in judgement.new_tests] or [f"{RED_TRAILER}: (whole suite)"]
    body = "Written first, from the spec's test mapping; seen failing on the unchanged code."
    return f"test: add failing tests for {short_title(title)} (#{issue})\n\n{body}\n\n" + "\n".join(trailers)


def red_tests_on_branch(messages: list[str]) -> list[str] | None:
    """The red tests a branch's commit messages record; None when no red commit is among them."""
    found = [t.strip() for m in messages for t in _TRAILER_LINE.findall(m)]
    if not found:
        return None
    return [t for t in dict.fromkeys(found) if t != "(whole suite)"]


def wip_message(issue: int, label: str, summary: str) -> str:
    return f"wip: {label}: {summary} (#{issue})"


def final_message(kind: str, title: str, issue: int, run: dict[str, Any], judgement: Judgement) -> str:
    passing = sum(s == "passed" for s in judgement.required.values())
    lines = [f"{kind}: {short_title(title)} (#{issue})", "",
             f"Tests: {run['passed']} passed, {run['failed']} failed, {run['errors']} errors "
             f"(`{run['command']}`)"]
    if judgement.required:
        lines.append(f"Required tests passing: {passing}/{len(judgement.required)}")
    if judgement.preexisting:
        lines.append(f"Already failing at the base commit: {', '.join(judgement.preexisting[:10])}")
    return "\n".join([*lines, "", f"Refs: #{issue}"])


def write_report(folder: Path, record: dict[str, Any], diff: str) -> None:
    """test-report.json, test-report.md and final.diff in the run's impl folder, secrets redacted."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-report.json").write_text(redact(json.dumps(record, indent=2, default=str)) + "\n")
    (folder / "test-report.md").write_text(redact(markdown(record)))
    (folder / "final.diff").write_text(redact(diff) + ("\n" if diff and not diff.endswith("\n") else ""))


def markdown(record: dict[str, Any]) -> str:
    """The test report for people (and for the PR body)."""
    final, base = record.get("final") or {}, record.get("baseline") or {}
    lines = [f"# Test report: issue #{record['issue']}", "", f"Verdict: **{record['outcome']}** — {record['message']}",
             "", f"- command: `{final.get('command', '')}`", f"- final run: {final.get('summary', '')}",
             f"- base commit {record.get('fork_sha', '')[:12]}: {base.get('summary', '')}"]
    lines += _table("Required tests", record.get("required") or {})
    lines += _bullets("Regressions", record.get("regressions"))
    lines += _bullets("Already failing at the base commit (not blamed)", record.get("preexisting"))
    lines += _bullets("Seen failing before the change (red)", record.get("red_tests"))
    lines += _bullets("New tests that passed before the change (do not test it)", record.get("not_testing"))
    lines += _bullets("Rounds", [f"{r['label']}: {r['summary']} → {r['action']}" for r in record.get("rounds", [])])
    lines += _bullets("Notes", record.get("notes"))
    return "\n".join(lines) + "\n"


def _table(title: str, rows: dict[str, str]) -> list[str]:
    if not rows:
        return []
    return ["", f"## {title}", "", "| test | status |", "|---|---|", *(f"| {cell(t)} | {s} |" for t, s in rows.items())]


def _bullets(title: str, items: list[str] | None) -> list[str]:
    return ["", f"## {title}", "", *(f"- {i}" for i in items)] if items else []
