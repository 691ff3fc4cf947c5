"""Test first, best state kept, regressions judged against the base commit: the real stage,
a scripted implementer issuing tool calls, and small real repositories made by the tests."""

from __future__ import annotations

import json

import pytest

from tests.helpers.repos import git
from tests.workflows.impl_repo import (
    BUGGY_LINE, FINISH, NEW_TESTS, RED_TESTS, TESTS, WRITE_RED_TESTS, call, implement, make_target,
    prompts_sent, replace, reply, report, run_folder, script, tool_calls, worktree,
)

FIXED = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))"
HIGH_ONLY = "    return max(lo, min(x, hi))"


def test_red_then_green_commits_tests_first_then_the_fix(tmp_path):
    repo = make_target(tmp_path / "repo")
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    log = git(repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert log == ["fix: clamp ignores its upper bound (#1)", "test: add failing tests for clamp ignores its upper bound (#1)"]
    red_commit = git(repo, "show", "agentos/issue-1~1:calc/ops.py")
    assert BUGGY_LINE in red_commit  # the tests were committed before any code changed
    body = git(repo, "log", "-1", "--format=%B", "agentos/issue-1~1")
    assert all(f"Agentos-Red-Test: {t}" in body for t in NEW_TESTS)
    rep = report(repo)
    assert rep["outcome"] == "PASS" and rep["required"] == {t: "passed" for t in NEW_TESTS}
    assert rep["red_tests"] == NEW_TESTS and not rep["regressions"]
    diff = (run_folder(repo) / "final.diff").read_text()
    assert "+def test_clamp_high" in diff and "raise ValueError" in diff
    # The user's checkout is untouched.
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main" and BUGGY_LINE in (repo / "calc/ops.py").read_text()


def test_red_phase_refuses_a_new_test_that_already_passes(tmp_path):
    repo = make_target(tmp_path / "repo")
    passes_already = RED_TESTS.replace("clamp(11, 0, 10) == 10", "clamp(10, 0, 10) == 10")
    script(repo, red=[reply(call("write_file", path="tests/test_ops.py", content=passes_already)), FINISH,
                      WRITE_RED_TESTS, FINISH],
           green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    [rejection] = [p for p in prompts_sent(repo, "impl.red") if "not ready yet" in p]
    assert "tests/test_ops.py::test_clamp_high passes before any code change, so it does not test the change" in rejection
    assert "test_clamp_rejects_swapped_bounds" not in rejection.split("not ready yet")[1]
    assert "clamp(11, 0, 10) == 10" in git(repo, "show", "agentos/issue-1~1:tests/test_ops.py")


def test_red_phase_blocks_when_the_tests_never_fail(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={"max_test_retries": 0})
    passes_already = TESTS + "\n\ndef test_clamp_high():\n    assert clamp(5, 0, 10) == 5\n"
    script(repo, red=[reply(call("write_file", path="tests/test_ops.py", content=passes_already)), FINISH])

    result = implement(repo)

    assert result.exit_code == 4
    assert result.state["exit_reason"] == "red_not_failing"
    assert "test_clamp_high passes before any code change" in result.message
    assert "test_clamp_rejects_swapped_bounds (from the spec's test mapping) was not found" in result.message
    kept = (run_folder(repo) / "tests-first-rejected.diff").read_text()
    assert "+def test_clamp_high" in kept
    assert git(repo, "rev-list", "--count", "main..agentos/issue-1").strip() == "0"
    assert (worktree(repo) / "tests" / "test_ops.py").read_text() == TESTS


def test_red_phase_refuses_code_changes_until_the_tests_fail(tmp_path):
    repo = make_target(tmp_path / "repo")
    script(repo, red=[replace(BUGGY_LINE, FIXED), WRITE_RED_TESTS, FINISH],
           green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    first = tool_calls(repo)[0]
    assert first["phase"] == "red" and first["refused"] and "tests first: only test files may change" in first["result"]


def test_a_round_that_makes_things_worse_is_rolled_back_to_the_best_commit(tmp_path):
    repo = make_target(tmp_path / "repo")
    breaks_low = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return min(x, hi)"
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[
        replace(BUGGY_LINE, HIGH_ONLY), FINISH,                  # 1 of 2 required tests pass: kept
        replace(HIGH_ONLY, breaks_low), FINISH,                  # both pass, test_clamp_low breaks: worse
        replace(HIGH_ONLY, FIXED), FINISH,                       # from the kept state again: passes
    ])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    rounds = report(repo)["rounds"]
    assert [r["action"] for r in rounds] == ["committed", "kept", "rolled back to implementation", "kept"]
    [worse] = [p for p in prompts_sent(repo, "impl.green") if "made things worse" in p]
    assert "regression: tests/test_ops.py::test_clamp_low" in worse
    # The last replace matched HIGH_ONLY, so the worktree really was back at the kept commit.
    assert not any(c["result"].startswith("error") for c in tool_calls(repo))
    assert "raise ValueError" in git(repo, "show", "agentos/issue-1:calc/ops.py")
    # The rounds were squashed: the tests-first commit, then one commit with the code.
    assert git(repo, "rev-list", "--count", "main..agentos/issue-1").strip() == "2"


def test_failing_tests_that_already_failed_at_the_base_are_reported_not_blamed(tmp_path):
    legacy = "def test_known_bug():\n    assert 0.1 + 0.2 == 0.3\n"
    repo = make_target(tmp_path / "repo", files={"tests/test_legacy.py": legacy})
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    rep = report(repo)
    assert rep["preexisting"] == ["tests/test_legacy.py::test_known_bug"] and not rep["regressions"]
    assert rep["baseline"]["failed_tests"] == ["tests/test_legacy.py::test_known_bug"]
    assert result.state["test_run"]["failed"] == 1
    assert "Already failing at the base commit: tests/test_legacy.py::test_known_bug" in git(
        repo, "log", "-1", "--format=%B", "agentos/issue-1")


def test_a_regression_blocks_even_when_the_required_tests_pass(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={"max_test_retries": 0})
    breaks_add = FIXED + "\n\n\ndef add(a, b):\n    return a - b"
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, breaks_add), FINISH])

    result = implement(repo)

    assert result.exit_code == 4
    assert "tests still failing after 0 fix rounds: tests/test_ops.py::test_add" in result.message
    rep = report(repo)
    assert rep["regressions"] == ["tests/test_ops.py::test_add"]
    assert rep["required"] == {t: "passed" for t in NEW_TESTS}
    # Blocked at the best state: the tests-first commit, not the regressing code.
    assert BUGGY_LINE in (worktree(repo) / "calc" / "ops.py").read_text()


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_rejected_pr_gate_reruns_green_on_the_branch_keeping_the_tests_first_commit(tmp_path):
    from agentos.commands.gates import record_decision
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    repo = make_target(tmp_path / "repo")
    config = repo / ".agentos" / "config.yaml"
    config.write_text(config.read_text().replace("before_pr: false", "before_pr: true"))
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])
    opts = RunOptions(issue=1, repo=repo, plain=True)
    assert orchestrate(opts).exit_code == 3
    record_decision(opts, "reject", "say what is wrong in words")
    script(repo, red=[], green=[replace("'lo > hi'", "'lo must not exceed hi'"), FINISH])

    assert orchestrate(opts).exit_code == 3  # implemented again, back at the gate
    record_decision(opts, "approve", None)
    result = orchestrate(opts)

    assert result.exit_code == 0, result.message
    [feedback_round] = [p for p in prompts_sent(repo, "impl.green") if "say what is wrong in words" in p]
    assert "feedback from the human approver" in feedback_round and "Phase 1" not in feedback_round
    log = git(repo, "log", "--format=%s", "main..agentos/issue-1").splitlines()
    assert len(log) == 3 and log[-1].startswith("test: add failing tests")
    assert "lo must not exceed hi" in git(repo, "show", "agentos/issue-1:calc/ops.py")
    # The base suite was run at the base commit, not on the branch's code.
    assert report(repo)["baseline"]["passed"] == 2


def test_tests_weakened_after_red_until_they_pass_do_not_count(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={"max_test_retries": 0})
    weakened = RED_TESTS.replace("clamp(11, 0, 10) == 10", "clamp(5, 0, 10) == 5")
    swapped_only = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, x)"
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[
        replace(BUGGY_LINE, swapped_only), reply(call("write_file", path="tests/test_ops.py", content=weakened)), FINISH])

    result = implement(repo)

    assert result.exit_code == 4
    assert ("the tests were changed after they were seen failing, and now: tests/test_ops.py::test_clamp_high "
            "passes before any code change") in result.message
    rep = report(repo)
    assert rep["required"] == {t: "passed" for t in NEW_TESTS}  # green by itself, yet not accepted
    assert json.loads((run_folder(repo) / "tests-tests-first-again.json").read_text())["passed"] == 3
    assert BUGGY_LINE in (worktree(repo) / "calc" / "ops.py").read_text()  # back at the tests-first commit


def test_tests_changed_after_red_that_still_fail_on_the_base_are_accepted(tmp_path):
    repo = make_target(tmp_path / "repo")
    renamed_message = RED_TESTS.replace("clamp(5, 10, 0)", "clamp(7, 10, 0)")
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[
        replace(BUGGY_LINE, FIXED), reply(call("write_file", path="tests/test_ops.py", content=renamed_message)), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    assert (run_folder(repo) / "tests-tests-first-again.json").exists()
    assert "clamp(7, 10, 0)" in git(repo, "show", "agentos/issue-1:tests/test_ops.py")
