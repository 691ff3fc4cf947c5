"""The code review's work on the worktree: its start, the adversarial tests, the fix rounds'
start, and its end.

The fix rounds themselves are the implementation's green phase (the implementer's round, then
green.test: test-by-test judgement, the best state kept as a commit, regressions rolled back);
this module hands them their task and their starting best state. On approval the stage's
commits become two: the kept adversarial tests in their own commit, then the fixes.
"""

from __future__ import annotations

import dataclasses
import json

from agentos.llm.base import Message
from agentos.progress.view import plural
from agentos.repo.testreport import TestRun
from agentos.workflows.code_review import adversarial, prompts
from agentos.workflows.code_review.report import close
from agentos.workflows.code_review.reviewer import decide
from agentos.workflows.code_review.state import ReviewState
from agentos.workflows.implementation import baserun, docs, report
from agentos.workflows.implementation import prompts as impl_prompts
from agentos.workflows.implementation.prepare import ready
from agentos.workflows.implementation.state import new_round, say
from agentos.workflows.implementation.verdict import judge_green
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.review_loop.state import same_model_warning
from agentos.workflows.review_loop.lineage import Lineage


def prepare(wt: StageWorktree, state: ReviewState) -> ReviewState:
    """The branch as the implementation left it: its base run, its tests now, what must pass."""
    cfg = wt.services.config.stages
    if warning := same_model_warning("review", "implementer", cfg.implementation.implementer, cfg.review.reviewer):
        wt.note(warning)
    notes, fork, template = ready(wt, state["issue_number"])
    git = wt.git
    base = baserun.base_run(wt, fork, template)
    red_tests = report.red_tests_on_branch(git.messages(f"{fork}..HEAD")) or []
    spec, lld = wt.documents(state["issue_number"])
    required = list(dict.fromkeys([*docs.required_tests(spec), *red_tests]))
    pinned = None if wt.cfg.test_command else template
    run = wt.run_tests({"test_template": pinned})
    wt.record_run(run, "review start")
    verdict = judge_green(run, base, required)
    feedback = state.get("human_feedback") or []
    return {"fork_sha": fork, "start_sha": git.head(), "red_commit": git.head(),
            "test_template": pinned, "baseline": dataclasses.asdict(base), "red_tests": red_tests,
            "required_tests": required, "allowed_paths": docs.listed_files(lld or ""), "notes": notes,
            "issue_title": wt.services.forge.get_issue(state["issue_number"]).title, "phase": "green",
            "test_run": dataclasses.asdict(run), "judgement": dataclasses.asdict(verdict), "review_round": 0,
            "review": None, "step": 0, "fix_round": 0, "refused": 0, "best": None, "frozen_tests": [],
            "open_findings": [{"id": f"H{i}", "section": "", "severity": "blocking", "text": text, "file": "",
                               "lines": "", "spec_item": "human approver"} for i, text in enumerate(feedback, 1)]}


def run_adversarial(wt: StageWorktree, state: ReviewState) -> ReviewState:
    """Write the reviewer's tests, run them with the suite, judge each, and decide what follows."""
    n, git = state["review_round"], wt.git
    tests = [t for t in state["adversarial"] if t.get("content") is not None and "status" not in t]
    refused = [t for t in state["adversarial"] if t.get("status") == "refused"]
    adversarial.write(wt.root, tests)
    run, results = _run_tests(wt, state, tests)
    _record_tests(wt, n, tests, results)
    after = decide(state, results, wt.services.config.stages.review.max_rounds)
    keep = [r for r in results if r["status"] == "passing" or (r["status"] == "failing" and after["next_step"] == "fix")]
    for r in results:
        if r not in keep:
            (wt.root / r["path"]).unlink(missing_ok=True)
    log = [{"round": n, **{k: r[k] for k in ("path", "status", "reason", "tests")}} for r in results]
    update: ReviewState = {**after, "adversarial": [*results, *refused], "adversarial_log": log,
                           "broken_returned": state.get("broken_returned") or any(r["status"] == "broken" for r in results)}
    if keep:
        sha = git.commit_all(report.wip_message(state["issue_number"], f"review round {n} adversarial tests",
                                                ", ".join(r["path"] for r in keep))) or git.head()
        required = list(dict.fromkeys([*state["required_tests"], *(t for r in keep for t in r["tests"])]))
        verdict = judge_green(run, TestRun(**state["baseline"]), required)
        update.update(red_commit=sha, required_tests=required, judgement=dataclasses.asdict(verdict),
                      test_run=dataclasses.asdict(run),
                      frozen_tests=[*state.get("frozen_tests", []), *(r["path"] for r in keep)])
    for r in results:
        wt.note(f"review round {n}: adversarial test {r['path']}: {r['status']} ({r['reason']})")
    return update


def _run_tests(wt: StageWorktree, state: ReviewState, tests: list[dict]) -> tuple[TestRun, list[dict]]:
    """(the suite's run with the tests that run, each test's result). A file that does not load can
    stop a whole run (pytest stops at a collection error), so the others run again without it."""
    before, n = TestRun(**state["test_run"]), state["review_round"]
    run = wt.run_tests(state)
    results = adversarial.judge(run, before, tests)
    broken = [r for r in results if r["reason"] == adversarial.NOT_LOADED]
    if broken and len(broken) < len(results):
        for r in broken:
            (wt.root / r["path"]).unlink(missing_ok=True)
        wt.record_run(run, f"review round {n} adversarial tests with the ones that do not load", "FAIL")
        rest = [t for t in tests if t["path"] not in {r["path"] for r in broken}]
        run = wt.run_tests(state)
        results = broken + adversarial.judge(run, before, rest)
    wt.record_run(run, f"review round {n} adversarial tests",
                  "FAIL" if any(r["status"] == "failing" for r in results) else "PASS")
    return run, results


def _record_tests(wt: StageWorktree, n: int, tests: list[dict], results: list[dict]) -> None:
    """The round's tests, as written, and their results, beside the round's prompt and verdict."""
    content = {t["path"]: t["content"] for t in tests}
    Lineage(wt.folder).write(f"round-{n}/adversarial.json", json.dumps(
        [{**r, "content": content.get(r["path"], "")} for r in results], indent=2))


def start_fix(wt: StageWorktree, state: ReviewState) -> ReviewState:
    """A fix round for the open findings, on the green machinery, from the current state as the best."""
    findings, required = state["open_findings"], state["required_tests"]
    task = prompts.fix_task(findings, required)
    judged = state.get("judgement") or {}
    best = {"sha": wt.git.head(), "score": list(judged.get("score") or (0, 0, 0)),
            "label": f"review round {state['review_round']}", "summary": TestRun(**state["test_run"]).summary()}
    update: ReviewState = {"best": best, "fix_round": 0, "round_name": f"review {state['review_round']} fix",
                           "phase": "green", **new_round()}
    if wt.uses_cli or any(m["role"] == "user" for m in state.get("messages") or []):
        return {**update, **say(wt.uses_cli, task)}
    # The documents are in the run's shared prefix that every implementer call opens with.
    intro = impl_prompts.intro(wt.test_command(wt.template(state)), task, [])
    return {**update, "messages": [Message(role="user", content=intro).model_dump()]}


def approve(wt: StageWorktree, state: ReviewState) -> ReviewState:
    """Approved: the kept adversarial tests in their own commit, the fixes in one more, the record."""
    git, issue, start = wt.git, state["issue_number"], state["start_sha"]
    commits: dict[str, str] = {}
    frozen = [p for p in state.get("frozen_tests") or [] if (wt.root / p).is_file()]
    kept = [{k: t[k] for k in ("path", "round", "tests")} for t in state.get("adversarial_log") or []
            if t["path"] in frozen and t["status"] in ("passing", "failing")]
    if git.head() != start or git.dirty_paths():
        git.soft_reset(start)
        title = report.short_title(state["issue_title"])
        if frozen and (sha := git.commit_paths(f"test: adversarial tests from the code review of {title} (#{issue})\n\n"
                                               "Written by the reviewer to break the change; they pass on it.", frozen)):
            commits["tests"] = sha
        if sha := git.commit_all(f"fix: address the code review of {title} (#{issue})\n\nRefs: #{issue}"):
            commits["fixes"] = sha
    rounds = state.get("review_round", 0)
    message = f"approved after {plural(rounds, 'review round')}"
    if kept:
        message += f"; {plural(len(kept), 'adversarial test')} kept"
    closed = close(wt, {**state, "kept_tests": kept}, "PASS", "approved", message, commits)
    return {**closed, "kept_tests": kept, "commit": git.head()}


def end(wt: StageWorktree, state: ReviewState) -> ReviewState:
    """Blocked (by the reviewer, at the cap, at stagnation, or a fix round whose tests never
    passed): the branch keeps its best state (each fix round's is committed, a worse one rolled
    back; failing adversarial tests are not left on it) and the open findings are recorded."""
    if state.get("outcome"):  # a fix round's tests that never passed: green.test ended it
        return close(wt, state, "BLOCK", state.get("exit_reason") or "tests_failing", state.get("message", ""))
    return close(wt, state, "BLOCK", state["exit_reason"], state["message"])
