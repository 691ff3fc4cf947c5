"""The red phase: tests first. Only test files may change, and the new tests must fail.

red_check runs the suite after the implementer's tests-first round. When the new tests fail
as they should, they are committed (the commit records them) and the green phase begins;
otherwise the implementer tries again, up to the retry limit, and then the stage blocks with
the rejected tests kept as a diff.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from agentos.redact import redact
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation import prompts, report
from agentos.workflows.implementation.state import ImplState, new_round, say
from agentos.workflows.implementation.tools import is_test_path
from agentos.workflows.implementation.verdict import Judgement, judge_green, judge_red, same_test, segments
from agentos.workflows.implementation.worktree import StageWorktree


def red_guard(state: ImplState) -> Callable[[str], str | None]:
    """In the red phase only test files (and the files the test mapping names) may change:
    the guard gives the reason a path may not, or None."""
    named = {t.split("::", 1)[0] for t in state.get("required_tests", []) if "::" in t}

    def guard(rel: str) -> str | None:
        if is_test_path(rel) or rel in named:
            return None
        return (f"{rel}: tests first: only test files may change until the new tests have been seen "
                "failing; write the tests, call `finish`, and then make the code change")

    return guard


def write_guard(state: ImplState) -> Callable[[str], str | None] | None:
    """The path rule of the moment beyond the usual ones: tests first in the red phase; and the
    tests a code reviewer wrote (`frozen_tests`), which the implementer must make pass, not edit."""
    red = red_guard(state) if state["phase"] == "red" else None
    frozen = set(state.get("frozen_tests") or [])
    if red is None and not frozen:
        return None

    def guard(rel: str) -> str | None:
        if rel in frozen:
            return (f"{rel}: a test the code reviewer wrote to break the change; make the code pass it, "
                    "do not change the test")
        return red(rel) if red else None

    return guard


def red_check(wt: StageWorktree, state: ImplState) -> ImplState:
    run = wt.run_tests(state)
    base = TestRun(**state["baseline"])
    verdict = judge_red(run, base, state["required_tests"], _existed_at_base(wt, state, base))
    wt.record_run(run, f"tests first {state.get('red_round', 0)}", "RED" if verdict.ok else "NOT RED")
    if verdict.ok:
        return _confirmed(wt, state, run, base, verdict)
    tries = state.get("red_round", 0) + 1
    if tries > wt.cfg.max_test_retries:
        return _blocked(wt, state, run, verdict, tries)
    return {**say(wt.uses_cli, prompts.red_rejected(verdict, run.output)), "red_round": tries,
            **new_round(), "test_run": dataclasses.asdict(run)}


def _existed_at_base(wt: StageWorktree, state: ImplState, base: TestRun):
    """Whether a required test is old: it ran at the base, or its name is in the base tree."""
    names = [segments(t)[-1] for t in state["required_tests"] if segments(t)]
    prose = ["**/*.md", "**/*.rst", "**/*.txt", f"{wt.services.config.docs_dir}/**"]  # mentions, not tests
    in_base_tree = wt.git.words_in(state["fork_sha"], names, exclude=prose)

    def existed(test: str) -> bool:
        ran = any(same_test(test, t) for t in [*base.passed_tests, *base.failed_tests])
        return ran or (bool(segments(test)) and segments(test)[-1] in in_base_tree)

    return existed


def _confirmed(wt: StageWorktree, state: ImplState, run: TestRun, base: TestRun, verdict: Judgement) -> ImplState:
    """The tests fail as they should: commit them and move to the green phase."""
    # Even with nothing new to commit (the tests came with kept work) the commit is the record.
    sha = wt.git.commit_all(report.red_message(state["issue_title"], state["issue_number"], verdict),
                            allow_empty=True)
    required = list(dict.fromkeys([*state["required_tests"], *verdict.new_tests]))
    score = judge_green(run, base, required).score
    best = {"sha": sha, "score": list(score), "label": "the tests-first commit", "summary": run.summary()}
    text = prompts.red_confirmed(verdict, run.summary(), required)
    entry = {"label": "tests first", "summary": run.summary(), "action": "committed"}
    return {**say(wt.uses_cli, text), "phase": "green", "red_commit": sha, "red_tests": verdict.new_tests,
            "not_testing": verdict.not_testing, "required_tests": required, "best": best, "rounds": [entry],
            "test_run": dataclasses.asdict(run), **new_round()}


def _blocked(wt: StageWorktree, state: ImplState, run: TestRun, verdict: Judgement, tries: int) -> ImplState:
    """Out of tries: keep the rejected tests as a diff, clear them away, and block."""
    git = wt.git
    patch = wt.folder / "tests-first-rejected.diff"
    wt.folder.mkdir(parents=True, exist_ok=True)
    git.stage_all()
    patch.write_text(redact(git.run("diff", "--cached", "HEAD")) + "\n")
    git.restore("HEAD")
    message = (f"the tests written first do not fail as they should after {tries} tr{'y' if tries == 1 else 'ies'}: "
               f"{'; '.join(verdict.problems[:3])} (their diff is kept in {patch})")
    return wt.finish(state, "BLOCK", "red_not_failing", message, run, verdict)
