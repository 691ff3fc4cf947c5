"""The stage's start: keep what an interrupted run left, set up the tests, measure the base.

prepare puts the worktree back on the work branch, commits any uncommitted work an earlier
attempt left, sets up the test environment and reads the documents; it decides the phase (a
branch whose tests were already seen failing starts green). baseline runs the full suite at
the base commit once.
"""

from __future__ import annotations

import dataclasses

from agentos.llm.base import Message
from agentos.repo.worktrees import back_on_branch, checked_out_at, fork_point
from agentos.repo.testcmd import detect_test_command
from agentos.workflows.implementation import docs, prompts, report
from agentos.workflows.implementation.state import ImplState, new_round
from agentos.workflows.implementation.verdict import judge_green
from agentos.workflows.implementation.worktree import StageWorktree


def prepare(wt: StageWorktree, state: ImplState) -> ImplState:
    if state.get("phase"):
        return {}
    ws, git = wt.workspace, wt.git
    back_on_branch(git, ws.branch)
    notes = keep_interrupted_work(wt, state["issue_number"])
    fork = fork_point(git, ws.base)
    template = wt.cfg.test_command or detect_test_command(wt.root)  # exit 2 naming the key
    if done := wt.environment(template).ensure():
        notes.append(f"test environment: {done.what} ({done.duration_s:.1f}s)")
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
        intro = prompts.intro(prompts.documents(spec, lld), wt.test_command(template), task,
                              state.get("human_feedback") or [])
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
    docs_dir = wt.services.config.docs_dir + "/"
    code_moved = [p for p in git.changed_files(fork, "HEAD") if not p.startswith(docs_dir)]
    if code_moved:
        with checked_out_at(git, fork, wt.workspace.branch):
            base = wt.run_tests(state, setup=False)
    else:
        base = wt.run_tests(state, setup=False)
    wt.record_run(base, "base commit", verdict="BASE")
    updates: ImplState = {"baseline": dataclasses.asdict(base)}
    if state["phase"] == "green" and code_moved:
        start = wt.run_tests(state)
        wt.record_run(start, "starting state")
        score = judge_green(start, base, state["required_tests"]).score
        updates["best"] = {"sha": git.head(), "score": list(score), "label": "the starting state",
                           "summary": start.summary()}
    return updates
