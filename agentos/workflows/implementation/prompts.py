"""What the implementer is told at each point of the stage: the same words for the built-in
tool loop (as conversation messages, after the run's shared prefix: see workflows/prefix.py)
and for an agent CLI (as its task text)."""

from __future__ import annotations

from agentos.markdown.escape import fenced
from agentos.workflows.implementation.verdict import Judgement
from agentos.workflows.prompts import UNTRUSTED_NOTE, data_block

ROLE = (
    "You are the implementer: implement the approved implementation spec above in this git "
    "repository, using tools. "
    "Work test first: in phase 1 write only the tests from the spec's test mapping; they are run "
    "and must fail on the current code. In phase 2 write the code that makes them pass without "
    "breaking any other test. Paths are relative to the repository root. When a phase is done, "
    "call `finish`; the tests are then run and their result, not your summary, decides."
)
CLI_PREAMBLE = (
    "You are working non-interactively in a git worktree of this repository. Edit the files "
    "directly. Do not commit, do not switch branches, and do not edit CI workflows, lock files, "
    "secrets or anything under .git: such changes are undone. The tests are run after you finish "
    "and their result, not your summary, decides.\n\n" + UNTRUSTED_NOTE
)
MAX_OUTPUT_CHARS = 6000


def _listing(tests: list[str]) -> str:
    return "\n".join(f"- {t}" for t in tests)


def documents(spec: str, lld: str | None) -> str:
    blocks = [data_block("approved spec", spec)] + ([data_block("approved lld", lld)] if lld else [])
    return "\n\n".join(blocks)


def red_task(required: list[str]) -> str:
    named = f" These tests are required:\n{_listing(required)}\n" if required else " "
    return (
        "Phase 1 of 2, tests first: write the tests from the spec's test mapping." + named
        + "Change only test files in this phase (other changes are refused until the new tests have "
        "been seen failing). The new tests must fail on the current code, because the change they "
        "test is not made yet. Call `finish` when they are written."
    )


def green_task(required: list[str]) -> str:
    return (
        "Implement the spec so that these tests pass, without breaking any other test:\n"
        f"{_listing(required) or '- the tests from the spec test mapping'}\n"
        "Call `finish` when done."
    )


def intro(command: str, phase_task: str, feedback: list[str], files: str = "") -> str:
    """The stage's first message (after the shared prefix): the role, the files the LLD names,
    the test command, the phase's task and any human feedback."""
    text = f"{ROLE}\n\n" + (f"{files}\n\n" if files else "") + f"The test command is `{command}`.\n\n{phase_task}"
    return text + with_feedback(feedback)


def with_feedback(feedback: list[str]) -> str:
    """The human approver's feedback on the branch's implementation, if any, to follow a task."""
    if not feedback:
        return ""
    notes = "\n".join(f"- {f}" for f in feedback)
    return ("\n\n" + data_block("feedback from the human approver", notes)
            + "\nThe branch already holds an implementation; change it to address this feedback.")


NOW = "files to change, as they are now"


def named_files(files: list[tuple[str, str | None]], context: str = "", title: str = NOW) -> str:
    """The files the LLD lists: whole, or named when new, too large, or already whole (the same
    text) in the `context` the prompt opens with."""
    parts = []
    for path, text in files:
        if text is None:
            parts.append(f"### {path}\n(not included: new, or too large for the context budget; "
                         "read_file shows what exists)")
        elif fenced(text) in context:
            parts.append(f"### {path}\n(whole in the context above, as it is now)")
        else:
            parts.append(f"### {path}\n{fenced(text)}")
    if not parts:
        return ""
    return data_block(title, "\n\n".join(parts))


def red_confirmed(judgement: Judgement, summary: str, required: list[str]) -> str:
    seen = _listing(judgement.new_tests) or "- (the suite fails, as it should)"
    text = f"The new tests fail on the current code, as they should ({summary}):\n{seen}\n\n"
    if judgement.not_testing:
        text += ("These new tests already pass, so they do not test the change (kept, but not "
                 f"counted):\n{_listing(judgement.not_testing)}\n\n")
    return text + "Phase 2 of 2: " + green_task(required)


def red_rejected(judgement: Judgement, output: str) -> str:
    return (
        data_block("test output", output[-MAX_OUTPUT_CHARS:]) + "\n\nThe tests are not ready yet:\n"
        + _listing(judgement.problems) + "\nFix the tests (test files only), then call `finish`."
    )


def fix_round(judgement: Judgement, output: str, rolled_back: str | None) -> str:
    text = data_block("test output", output[-MAX_OUTPUT_CHARS:]) + "\n\nThe tests do not pass yet:\n"
    text += _listing(judgement.problems)
    if judgement.preexisting:
        text += ("\n(These already failed at the base commit and are not held against you:\n"
                 f"{_listing(judgement.preexisting)})")
    if rolled_back:
        text += f"\n\n{rolled_back}"
    return text + "\n\nFix the code, then call `finish`."


def cli_task(docs: str, command: str, instructions: str) -> str:
    return f"{CLI_PREAMBLE}\n\n{docs}\n\nThe test command is `{command}`.\n\n{instructions}\n"
