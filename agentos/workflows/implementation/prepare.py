"""The stage's start: keep what an interrupted run left, set up the tests, measure the base.

prepare puts the worktree back on the work branch, commits any uncommitted work an earlier
attempt left, sets up the test environment and reads the documents; it decides the phase (a
branch whose tests were already seen failing starts green). baseline runs the full suite at
the base commit once (see baserun), or reuses the run the orchestrator's preflight made
before triage.
"""

from __future__ import annotations

import dataclasses

from agentos.llm.base import Message
from agentos.repo.worktrees import back_on_branch, fork_point
from agentos.repo.testcmd import detect_test_command
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation import baserun, docs, prompts, report, untracked
from agentos.workflows.implementation.state import ImplState, new_round
from agentos.workflows.implementation.verdict import judge_green
from agentos.workflows.implementation.worktree import StageWorktree


def preflight(wt: StageWorktree, issue: int) -> tuple[list[str], TestRun]:
    """Before the pipeline's first model call: (notes for the stage's report, the base run),
    which must really run the tests (BaseRunError, exit 2, otherwise). The stage's baseline
    reuses the run."""
    notes, fork, template = ready(wt, issue)
    return notes, baserun.base_run(wt, fork, template)


def ready(wt: StageWorktree, issue: int) -> tuple[list[str], str, str]:
    """(notes, base commit, test command): the worktree back on its branch with interrupted
    work kept, and its test environment set up."""
    ws, git = wt.workspace, wt.git
    back_on_branch(git, ws.branch)
    notes = []
    if kept := untracked.finish_interrupted(wt.root):  # before anything is committed
        notes.append(f"kept out of git what an interrupted set-up made: {', '.join(kept)}")
        wt.note(notes[-1])
    notes += keep_interrupted_work(wt, issue)
    fork = fork_point(git, ws.base)
    template = wt.cfg.test_command or detect_test_command(wt.root)  # exit 2 naming the key
    if done := wt.environment(template).ensure():
        notes.append(f"test environment: {done.what} ({done.duration_s:.1f}s)")
        wt.note(notes[-1])
    return notes, fork, template


def prepare(wt: StageWorktree, state: ImplState) -> ImplState:
    if state.get("phase"):
        return {}
    git = wt.git
    notes, fork, template = ready(wt, state["issue_number"])
    red_tests = report.red_tests_on_branch(git.messages(f"{fork}..HEAD"))
    return {**_opening(wt, state, template, red_tests), "fork_sha": fork, "start_sha": git.head(),
            "notes": notes, "issue_title": wt.services.forge.get_issue(state["issue_number"]).title,
            "test_template": None if wt.cfg.test_command else template, "red_tests": red_tests or [],
            "step": 0, "red_round": 0, "fix_round": 0, "refused": 0, "best": None, "red_commit": None,
            **new_round()}


def _opening(wt: StageWorktree, state: ImplState, template: str, red_tests: list[str] | None) -> ImplState:
    """Phase, required tests, allowed paths and (built-in) the first message. A branch whose
    tests were already seen failing (a red commit) starts green, as does human feedback."""
    spec, lld = wt.documents(state["issue_number"])
    required = list(dict.fromkeys([*docs.required_tests(spec), *(red_tests or [])]))
    phase = "green" if red_tests is not None or state.get("human_feedback") else "red"
    opening: ImplState = {"phase": phase, "required_tests": required, "allowed_paths": docs.listed_files(lld or "")}
    if not wt.uses_cli:
        task = prompts.red_task(required) if phase == "red" else prompts.green_task(required)
        files = prompts.named_files(docs.named_files(docs.in_tree(wt.root), lld or "", wt.cfg.context_tokens),
                                    "\n".join(m.content for m in wt.shared_prefix))
        intro = prompts.intro(wt.test_command(template), task, state.get("human_feedback") or [], files)
        opening["messages"] = [Message(role="user", content=intro).model_dump()]
    return opening


def keep_interrupted_work(wt: StageWorktree, issue: int) -> list[str]:
    """Commit what a crashed or failed earlier attempt left uncommitted, so nothing is lost."""
    changed = wt.git.dirty_paths()
    if not changed or not wt.git.commit_all(f"wip: keep uncommitted work of an interrupted run (#{issue})"):
        return []
    note = f"kept uncommitted work of an interrupted run: {', '.join(changed[:10])}"
    wt.note(note)
    return [note]


def baseline(wt: StageWorktree, state: ImplState) -> ImplState:
    """The full suite at the base commit, once; and in a green start, the starting state."""
    git, fork = wt.git, state["fork_sha"]
    base = baserun.base_run(wt, fork, wt.template(state))
    updates: ImplState = {"baseline": dataclasses.asdict(base)}
    required = docs.named_by_phrase(state["required_tests"], [*base.passed_tests, *base.failed_tests])
    if required != state["required_tests"]:
        updates["required_tests"] = required
    if state["phase"] == "green" and baserun.code_moved(wt, fork):
        start = wt.run_tests(state)
        wt.record_run(start, "starting state")
        score = judge_green(start, base, required).score
        updates["best"] = {"sha": git.head(), "score": list(score), "label": "the starting state",
                           "summary": start.summary()}
    return updates
