"""The green phase: the code that makes the tests pass, judged by the tests alone.

test judges each round: the required tests pass, nothing regressed against the base commit,
and tests changed since the red run still fail on the base code. The best state so far is
kept as a commit and restored when a round makes things worse. After the last fix round the
stage blocks; when the tests pass, commit squashes the rounds into one conventional commit.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from agentos.repo.worktrees import checked_out_at
from agentos.progress.view import plural
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation import docs, prompts, report
from agentos.workflows.implementation.state import ImplState, new_round, say
from agentos.workflows.implementation.tools import is_test_path
from agentos.workflows.implementation.verdict import Judgement, judge_green, judge_red
from agentos.workflows.implementation.worktree import StageWorktree


def test(wt: StageWorktree, state: ImplState) -> ImplState:
    run = wt.run_tests(state)
    base = TestRun(**state["baseline"])
    verdict = judge_green(run, base, state["required_tests"])
    rounds_done = state.get("fix_round", 0)
    label = _label(state.get("round_name"), rounds_done)
    wt.record_run(run, label, "PASS" if verdict.ok else "FAIL")
    if verdict.ok:
        verdict = _still_red(wt, state, verdict, base)
    best, kept = _keep_or_roll_back(wt, state, run, verdict, label) if not verdict.ok else (state.get("best"), True)
    entry = {"label": label, "summary": run.summary(), "action": "kept" if kept else f"rolled back to {best['label']}"}
    judged = {"best": best, "test_run": dataclasses.asdict(run), "judgement": dataclasses.asdict(verdict)}
    if verdict.ok:
        return {**judged, "rounds": [entry]}
    if rounds_done >= wt.cfg.max_test_retries:
        return {**judged, "rounds": [entry], **_blocked(wt, state, run, verdict, entry)}
    worse = None if kept else (f"That round made things worse than {best['label']} ({best['summary']}), so the "
                               "worktree was put back to that state. Try a different approach.")
    return {**judged, "rounds": [entry], **say(wt.uses_cli, prompts.fix_round(verdict, run.output, worse)),
            "fix_round": rounds_done + 1, **new_round()}


def _label(name: str | None, rounds_done: int) -> str:
    """What a judged round is called: the implementation (or the named work), then its fix rounds."""
    if rounds_done == 0:
        return name or "implementation"
    return f"{name}, fix round {rounds_done}" if name else f"fix round {rounds_done}"


def _still_red(wt: StageWorktree, state: ImplState, verdict: Judgement, base: TestRun) -> Judgement:
    """If test files changed after the tests were seen failing, the tests as they are now
    must still fail on the base code: passing tests weakened until they pass do not count."""
    git = wt.git
    since = state.get("red_commit") or state["start_sha"]
    changed = [p for p in git.changed_since(since) if is_test_path(p) and (wt.root / p).is_file()]
    if not changed or not state.get("red_tests"):
        return verdict
    head = git.commit_all(report.wip_message(state["issue_number"], "tests changed", "to check them")) or git.head()
    with checked_out_at(git, state["fork_sha"], wt.workspace.branch):
        git.checkout_paths(head, changed)
        again = wt.run_tests(state, setup=False)
    red = judge_red(again, base, state["red_tests"], lambda _test: False)
    wt.record_run(again, "tests first again", "RED" if red.ok else "NOT RED")
    if red.ok:
        return verdict
    problems = [f"the tests were changed after they were seen failing, and now: {p}" for p in red.problems]
    return dataclasses.replace(verdict, ok=False, problems=[*verdict.problems, *problems],
                               score=(0, *verdict.score[1:]))


def _keep_or_roll_back(wt: StageWorktree, state: ImplState, run: TestRun, verdict: Judgement, label: str):
    """(best state, whether this one is it): commit a state at least as good, else restore the best."""
    git, best = wt.git, state.get("best")
    if best is None or tuple(verdict.score) >= tuple(best["score"]):
        sha = git.commit_all(report.wip_message(state["issue_number"], label, run.summary())) or git.head()
        return {"sha": sha, "score": list(verdict.score), "label": label, "summary": run.summary()}, True
    git.restore(best["sha"])
    wt.note(f"{label} made things worse ({run.summary()}); restored {best['label']} ({best['summary']})")
    return best, False


def _blocked(wt: StageWorktree, state: ImplState, run: TestRun, verdict: Judgement,
             entry: dict[str, Any]) -> ImplState:
    """Out of fix rounds: block, naming the tests still failing."""
    failing = [t for t, s in verdict.required.items() if s != "passed"] + verdict.regressions
    shown = ", ".join(failing[:10]) or "; ".join(verdict.problems[:3]) or run.summary()
    message = f"tests still failing after {plural(wt.cfg.max_test_retries, 'fix round')}: {shown}"
    if verdict.preexisting:
        message += f" (already failing at the base commit, not blamed: {', '.join(verdict.preexisting[:5])})"
    return wt.finish(state, "BLOCK", "tests_failing", message, run, verdict, last_round=entry)


def commit(wt: StageWorktree, state: ImplState) -> ImplState:
    """Squash the rounds into one conventional commit and write the stage's report."""
    git, issue = wt.git, state["issue_number"]
    squash_from = state.get("red_commit") or state["start_sha"]
    if git.head() != squash_from:
        git.soft_reset(squash_from)
    verdict = Judgement(**state["judgement"])
    brief = wt.workspace.read_doc("triage")
    run = {**state["test_run"], "command": state["test_run"]["command"].replace(f"{wt.root}/", "")}
    message = report.final_message(docs.commit_type(brief[0] if brief else None), state["issue_title"], issue,
                                   run, verdict)
    sha = git.commit_all(message) or git.head()
    diff = git.run("diff", f"{state['fork_sha']}..{sha}")
    changed = len(re.findall(r"(?m)^diff --git ", diff))
    final = TestRun(**state["test_run"])
    summary = f"tests pass ({final.summary()}); {plural(changed, 'file')} changed"
    return {**wt.finish(state, "PASS", "tests_pass", summary, final, verdict, sha, diff), "commit": sha}
