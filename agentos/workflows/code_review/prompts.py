"""What the code reviewer and the implementer are told in the code review.

The reviewer's request is built by the review loop's DocumentContext (the run's shared prefix
first: system prompt, repository, issue, approved documents; then this role; then this round's
diff, tests and files), so it shares the layout, and the provider's prompt cache, of every call.
"""

from __future__ import annotations

from typing import Any

from agentos.workflows.prompts import data_block

ROLE_CODE_REVIEWER = (
    "You are a demanding reviewer of a {title}, and you try to break it. {purpose}\n"
    "Judge the diff against the approved spec and design, the issue and the test report. Verdict "
    "APPROVED only when the change does what the spec asks, with tests that show it; REVISE with "
    "specific findings otherwise (give each a stable id, the file and line range, a severity: "
    "blocking or major must be fixed, minor is noted in the pull request; and the spec item it "
    "concerns; reuse the id when you raise the same point again); BLOCKED only when the change "
    "cannot be made to meet the spec. {{tests}}Answer as JSON matching the schema.\n\n"
    "Checklist:\n{template}"
)
TESTS = (
    "You may also write up to {limit} adversarial tests: new test files, in the project's test "
    "framework and layout, that you expect the change to FAIL (edge cases, error paths, spec items "
    "nobody tested). They are run with the suite: one that fails goes to the implementer as a "
    "finding; one that passes is kept as extra coverage. "
)


def role(limit: int) -> str:
    """The reviewer's instructions, with or without adversarial tests."""
    return ROLE_CODE_REVIEWER.replace("{{tests}}", TESTS.format(limit=limit) if limit else "Write no tests. ")


PURPOSE = "The implementer's tests pass; your job is to find what they miss."
ASK = "Review the change. Answer as JSON: verdict, summary, findings, adversarial_tests."
FIX_TASK = (
    "A code reviewer looked at your change. Address every point below without breaking any test; "
    "the reviewer's tests are fixed: make the code pass them, do not edit them. The tests that "
    "must pass:\n{required}\n\nCall `finish` when done; the tests are run, then the reviewer looks again."
)
OUTPUT_CHARS = 3000


def render_findings(findings: list[dict[str, Any]]) -> str:
    """Findings as a list, each with where it is and what it concerns."""
    lines = []
    for f in findings:
        where = f.get("file", "") + (f":{f['lines']}" if f.get("lines") else "")
        about = f"({f['spec_item']})" if f.get("spec_item") else ""
        head = " ".join(x for x in (f"- {f['id']} [{f['severity']}]", where, about) if x)
        lines.append(f"{head}: {f['text']}")
    return "\n".join(lines) or "- (none)"


def fix_task(findings: list[dict[str, Any]], required: list[str]) -> str:
    """The implementer's task for a fix round: the findings and the failing tests' output."""
    outputs = [data_block(f"output of {f['file']}", f["output"][-OUTPUT_CHARS:]) for f in findings if f.get("output")]
    listing = "\n".join(f"- {t}" for t in required) or "- the tests from the spec test mapping"
    parts = [data_block("code review findings", render_findings(findings)), *outputs,
             FIX_TASK.format(required=listing)]
    return "\n\n".join(parts)


def test_report(state: dict[str, Any]) -> str:
    """Base → red → green, from the runs the stages measured."""
    base, run = state.get("baseline") or {}, state.get("test_run") or {}
    lines = [f"- at the base commit: {_summary(base)}",
             "- written first and seen failing on the unchanged code (red): "
             + (", ".join(state.get("red_tests") or []) or "(none recorded)"),
             f"- now (green): {_summary(run)}"]
    required = (state.get("judgement") or {}).get("required") or {}
    lines += [f"  - {test}: {status}" for test, status in required.items()]
    return "\n".join(lines)


def _summary(run: dict[str, Any]) -> str:
    if not run:
        return "(not run)"
    return f"{run.get('passed', 0)} passed, {run.get('failed', 0)} failed, {run.get('errors', 0)} errors"


def last_round(state: dict[str, Any]) -> str | None:
    """What became of the previous round: the findings sent to a fix round and each adversarial test."""
    if not state.get("review"):
        return None
    lines = []
    if state.get("open_findings"):  # at a review, these are what the fix round just addressed
        lines.append("Findings the implementer's fix round addressed (the tests pass):")
        lines.append(render_findings(state["open_findings"]))
    for test in state.get("adversarial") or []:
        lines.append(f"- your test {test['path']}: {test['status']}: {test.get('reason', '')}")
        if test["status"] == "broken" and test.get("output"):
            lines.append(data_block(f"output of {test['path']}", test["output"][-OUTPUT_CHARS:]))
    return "\n".join(lines) or None
