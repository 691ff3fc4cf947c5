"""The reviewer's adversarial tests: model-written, so untrusted. Each must be a new test file
inside the worktree; agentos writes it, runs it with the suite in the sandbox, and judges it
like the red phase does: failing on the change (a finding, sent back with its output), passing
(kept as extra coverage), or not running at all (syntax, import, collection: back to the
reviewer once).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from agentos.progress.view import plural
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation.tools import is_test_path, write_refusal
from agentos.workflows.implementation.verdict import contains, same_test, segments
from agentos.workflows.code_review.schema import AdversarialTest

MAX_CHARS = 40_000
"""A test file longer than this is refused (a reviewer's test is a handful of cases)."""
OUTPUT_CHARS = 3000
NOT_LOADED = "the file did not load (syntax, import or collection error)"
"""Why a test is broken when the runner reported its file itself failing: such a file can stop the
whole run (pytest does at a collection error), so the others are judged again without it."""


def refusal(test: AdversarialTest, root: Path, taken: set[str]) -> str | None:
    """Why the reviewer's test cannot be written, or None: a new test file inside the worktree."""
    raw = test.path.strip()
    rel = posixpath.normpath(raw.removeprefix("./")) if raw else ""
    if not rel or raw.startswith(("/", "~")) or "\\" in raw or rel.startswith(".."):
        return f"{test.path!r}: a path relative to the repository root is required"
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        return f"{test.path}: resolves outside the repository"
    if not is_test_path(rel):
        return f"{test.path}: not a test file name (e.g. tests/test_<what>.py, <what>_test.go, <what>.test.js)"
    if reason := write_refusal(rel):
        return reason
    if any(p.exists() and not p.is_dir() for p in target.parents if p.is_relative_to(root.resolve())):
        return f"{test.path}: a folder on its path is a file"
    if target.exists() or rel in taken:
        return f"{test.path}: exists already; adversarial tests go in new files"
    if not test.content.strip() or len(test.content) > MAX_CHARS:
        return f"{test.path}: the content must be a test file of at most {MAX_CHARS:,} characters"
    return None


def accept(tests: list[AdversarialTest], root: Path, limit: int) -> tuple[list[dict], list[dict]]:
    """(tests to write, refused ones with the reason): at most `limit`, each a new test file."""
    accepted: list[dict] = []
    refused: list[dict] = []
    for test in tests:
        rel = posixpath.normpath(test.path.strip().removeprefix("./"))
        reason = refusal(test, root, {t["path"] for t in accepted})
        if reason is None and len(accepted) >= limit:
            reason = f"{test.path}: over the limit of {plural(limit, 'adversarial test')} per round"
        if reason:
            refused.append({"path": test.path, "expects": test.expects, "status": "refused", "reason": reason})
        else:
            accepted.append({"path": rel, "content": test.content, "expects": test.expects})
    return accepted, refused


def write(root: Path, tests: list[dict]) -> None:
    for test in tests:
        target = root / test["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(test["content"], encoding="utf-8")


def judge(run: TestRun, before: TestRun, tests: list[dict]) -> list[dict]:
    """Each test file's result in `run` (the suite with the tests added; `before` without them):
    {path, expects, status: failing | passing | broken, tests, output, reason}."""
    named = {t["path"]: _results(run, t["path"]) for t in tests}
    unnamed = [p for p, r in named.items() if r is None]
    guess = _by_difference(run, before) if unnamed else None
    out = []
    for test in tests:
        status, names, reason = named[test["path"]] or guess
        entry = {"path": test["path"], "expects": test.get("expects", ""), "status": status, "tests": names,
                 "reason": reason}
        if status != "passing":
            entry["output"] = run.output[-OUTPUT_CHARS:]
        out.append(entry)
    return out


def _results(run: TestRun, path: str) -> tuple[str, list[str], str] | None:
    """(status, test names, why) from the names the runner printed; None when it names none of them."""
    module = segments(path)
    if run.timed_out:
        return "failing", [], "the run timed out with this test in it"
    if run.results_unknown:
        return "broken", [], "the test run printed no results agentos recognises"
    if any(segments(f) == module or ("_FailedTest" in segments(f) and segments(f)[-1] == module[-1])
           for f in run.failed_tests):
        return "broken", [], NOT_LOADED
    failed = [t for t in run.failed_tests if contains(t, path)]
    passed = [t for t in run.passed_tests if contains(t, path)]
    if failed:
        return "failing", failed, "fails on the change"
    if passed:
        return "passing", passed, "passes on the change"
    if run.names_complete:
        return "broken", [], "the runner collected no test from this file"
    return None


def _by_difference(run: TestRun, before: TestRun) -> tuple[str, list[str], str]:
    """For runners that do not name tests by file: new failures against the run without the tests."""
    new = [f for f in run.failed_tests if not any(same_test(f, b) for b in before.failed_tests)]
    if new or run.failed + run.errors > before.failed + before.errors:
        return "failing", new, "new failures with the adversarial tests added"
    if run.passed > before.passed:
        return "passing", [], "more tests pass with the adversarial tests added"
    return "broken", [], "no more tests ran with the adversarial tests added"


def as_finding(result: dict[str, Any], round_no: int, index: int) -> dict[str, Any]:
    """A failing adversarial test as a finding for the fix round."""
    names = ", ".join(result["tests"][:5]) or result["path"]
    text = f"the reviewer's test {result['path']} fails on the change ({names})"
    if result.get("expects"):
        text += f": it checks {result['expects']}"
    return {"id": f"T{round_no}.{index}", "section": "", "file": result["path"], "lines": "", "spec_item": "",
            "severity": "blocking", "text": text, "output": result.get("output", "")}
