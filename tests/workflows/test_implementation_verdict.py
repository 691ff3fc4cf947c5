"""Judging runs by test name, and reading the tests and files the documents name."""

from __future__ import annotations

import pytest

from agentos.repo.testreport import TestRun
from agentos.workflows.implementation.docs import (commit_type, in_tree, is_test_id, listed_files, named_by_phrase, named_files,
                                                   required_tests)
from agentos.workflows.implementation.prompts import intro, named_files as files_block, with_feedback
from agentos.workflows.implementation.tools import is_test_path
from agentos.workflows.implementation.report import red_message, red_tests_on_branch
from agentos.workflows.implementation.verdict import Judgement, judge_green, judge_red, same_test, segments, status


def run(passed=(), failed=(), *, errors=0, exit_code=None, timed_out=False, counts=True, extra_failed=0) -> TestRun:
    passed, failed = list(passed), list(failed)
    code = exit_code if exit_code is not None else (1 if failed or errors or extra_failed else 0)
    return TestRun(command="t", exit_code=None if timed_out else code, timed_out=timed_out, duration_s=0.1,
                   passed=len(passed), failed=len(failed) - errors + extra_failed, errors=errors, skipped=0,
                   failed_tests=failed, output="", counts_known=counts, timeout_s=5, passed_tests=passed)


def never_existed(_test: str) -> bool:
    return False


@pytest.mark.parametrize("a, b, same", [
    ("tests/test_x.py::T::test_a", "tests.test_x.T.test_a", True),
    ("test_a", "tests/test_x.py::test_a[1-2]", True),
    ("tests/test_x.py::test_a", "tests/test_y.py::test_a", False),
    ("TestAdd", "TestAdd", True),
    ("pkg/add_test.go::TestAdd", "TestAdd", True),
    ("tests::adds", "other::adds", False),
])
def test_names_match_across_runners(a, b, same):
    assert same_test(a, b) is same
    assert segments("tests/test_x.py::T::test_a[x.y]") == ("tests", "test_x", "T", "test_a")


def test_a_module_that_failed_to_import_fails_every_test_in_it():
    collection_error = run(["tests/test_y.py::test_b"], ["tests.test_x"], errors=1)
    assert status("tests/test_x.py::test_a", collection_error) == "failed"
    unittest_error = run([], ["unittest.loader._FailedTest.test_x"], errors=1)
    assert status("tests.test_x.T.test_a", unittest_error) == "failed"
    assert status("tests/test_y.py::test_b", collection_error) == "passed"


def test_status_without_passing_names_is_unknown_unless_the_run_was_clean():
    names_only_failures = run([], ["t::a"], counts=True)
    names_only_failures.passed = 3
    assert status("t::b", names_only_failures) == "unknown"
    assert status("t::b", run(["t::b"], [])) == "passed"
    assert status("t::c", run(["t::b"], [])) == "missing"
    assert status("t::b", run(timed_out=True)) == "failed"


def test_red_requires_new_tests_to_fail_and_reports_extra_ones_that_pass():
    base = run(["t::old"])
    red = run(["t::old", "t::extra"], ["t::new"])
    verdict = judge_red(red, base, ["t::new"], never_existed)
    assert verdict.ok and verdict.new_tests == ["t::new"] and verdict.not_testing == ["t::extra"]

    passing = judge_red(run(["t::old", "t::new"]), base, ["t::new", "t::gone"], never_existed)
    assert not passing.ok
    assert passing.problems[0].startswith("t::new passes before any code change")
    assert "t::gone (from the spec's test mapping) was not found" in passing.problems[1]


def test_red_ignores_required_tests_that_already_existed():
    base = run(["t::old"])
    verdict = judge_red(run(["t::old"], ["t::new"]), base, ["t::old", "t::new"], lambda t: t == "t::old")
    assert verdict.ok and verdict.new_tests == ["t::new"]


def test_red_without_a_mapping_needs_some_new_failure():
    base = run(["t::old"], ["t::flaky"])
    assert judge_red(run(["t::old"], ["t::flaky", "t::mine"]), base, [], never_existed).new_tests == ["t::mine"]
    assert not judge_red(run(["t::old"], ["t::flaky"]), base, [], never_existed).ok
    names_only_failures = run(["t::old"])
    names_only_failures.passed = 3
    assert "still passes" in judge_red(names_only_failures, base, [], never_existed).problems[0]
    assert judge_red(run(timed_out=True), base, ["t::new"], never_existed).ok


@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_a_run_whose_results_are_unknown_is_never_red(exit_code):
    for required in ([], ["t::new"]):
        verdict = judge_red(run(counts=False, exit_code=exit_code), run(["t::old"]), required, never_existed)
        assert not verdict.ok and "printed no results agentos recognises" in verdict.problems[0]


def test_green_blames_only_what_passed_at_the_base():
    base = run(["t::a", "t::b"], ["t::legacy"])
    verdict = judge_green(run(["t::a", "t::new"], ["t::legacy", "t::b"]), base, ["t::new"])
    assert not verdict.ok
    assert verdict.regressions == ["t::b"] and verdict.preexisting == ["t::legacy"]
    assert verdict.score == (0, 1, 2)

    fine = judge_green(run(["t::a", "t::b", "t::new"], ["t::legacy"]), base, ["t::new"])
    assert fine.ok and fine.preexisting == ["t::legacy"] and fine.score == (1, 1, 3)


def test_green_counts_vanished_and_unnamed_failures_as_regressions():
    base = run(["t::a", "t::b"])
    vanished = judge_green(run(["t::a", "t::new"]), base, ["t::new"])
    assert vanished.regressions == ["t::b (passed at the base commit, no longer runs)"]
    unnamed = judge_green(run(["t::new"], [], extra_failed=2), run(["t::a"], [], extra_failed=1), ["t::new"])
    assert "1 more failing test than at the base commit (unnamed)" in unnamed.regressions


def test_green_new_failing_tests_block_without_being_regressions():
    verdict = judge_green(run(["t::a", "t::new"], ["t::mine"]), run(["t::a"]), ["t::new"])
    assert not verdict.ok and verdict.regressions == [] and "new test failing: t::mine" in verdict.problems


@pytest.mark.parametrize("exit_code", [0, 1])
def test_a_run_whose_results_are_unknown_is_never_green(exit_code):
    verdict = judge_green(run(counts=False, exit_code=exit_code), run(["t::a"]), ["t::new"])
    assert not verdict.ok and verdict.required == {"t::new": "unknown"}
    assert "printed no results agentos recognises" in verdict.problems[-1]
    assert status("t::new", run(counts=False, exit_code=0)) == "unknown"


def test_green_with_a_runner_that_names_only_failures_goes_by_the_counts():
    clean = run(["t::a"])
    clean.passed = 4
    assert judge_green(clean, run(["t::a"]), ["t::new"]).ok
    timed_out = judge_green(run(timed_out=True), run(["t::a"]), ["t::new"])
    assert not timed_out.ok and timed_out.problems == ["the test run timed out after 5s"]


SPEC = """# Spec

## Test mapping
| Criterion | Test | Notes |
|-----------|------|-------|
| AC1 | `tests/test_slug.py::SlugifyTest::test_collapses` | new |
| AC2 | tests/test_slug.py::test_strips, `test_keeps_case` | |
| AC3 | existing tests | still pass |
| AC4 | T1 | manual |
| AC5 | `tests/test_slug.py` | a file, not a test |

## Dependencies
None.
"""


def test_required_tests_come_from_the_test_mapping_table():
    assert required_tests(SPEC) == ["tests/test_slug.py::SlugifyTest::test_collapses",
                                    "tests/test_slug.py::test_strips", "test_keeps_case"]
    assert required_tests("# Spec\n\n## Overview\nx\n") == []
    assert is_test_id("TestParse") and is_test_id("pkg.tests.test_a") and not is_test_id("tests")


TAPE_SPEC = """## Test mapping
| Criterion | Test |
|---|---|
| AC1 | `keeps every argument after --` |
| AC2 | `long opts` (already in the suite, keeps passing) |
| AC3 | `len(parse(x)) == 2` |
"""


def test_tests_named_by_a_phrase_are_required_only_where_the_runner_names_tests_so():
    assert required_tests(TAPE_SPEC) == ["keeps every argument after --", "long opts"]
    tape_names = ["-a -- b", "long opts"]
    assert named_by_phrase(required_tests(TAPE_SPEC), tape_names) == ["keeps every argument after --", "long opts"]
    pytest_names = ["tests/test_a.py::test_x"]
    assert named_by_phrase(["test_y", "keeps every argument after --"], pytest_names) == ["test_y"]


def test_root_level_test_scripts_are_test_files():
    assert is_test_path("test.js") and is_test_path("test.py") and is_test_path("tests/util.js")
    assert not is_test_path("testing.js") and not is_test_path("contest.js")


def test_files_changed_and_the_commit_type_come_from_the_lld_and_brief():
    lld = ("## Files changed\n| Path | Change |\n|---|---|\n| `src/a.py` | modify |\n| ./.github/workflows/ci.yml | add |\n"
           "| /etc/passwd | no |\n")
    assert listed_files(lld) == ["src/a.py", ".github/workflows/ci.yml"]
    assert commit_type("## Kind\nbug\n") == "fix" and commit_type("## Kind\n**feature**\n") == "feat"
    assert commit_type(None) == "feat" and commit_type("## Kind\ndocs\n") == "docs"


def test_the_files_the_lld_lists_go_whole_into_the_first_message_within_the_budget(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def a():\n    return 1\n")
    (tmp_path / "big.py").write_text("x = 1\n" * 2000)  # 12,000 characters: past a 1,000-token budget
    (tmp_path.parent / "secret.py").write_text("KEY = 1\n")
    lld = ("## Files changed\n| Path | Change |\n|---|---|\n| `src/a.py` | modify |\n| big.py | modify |\n"
           "| tests/test_a.py | add |\n| ../secret.py | modify |\n")
    files = named_files(in_tree(tmp_path), lld, 1000)
    assert files == [("src/a.py", "def a():\n    return 1\n"), ("big.py", None), ("tests/test_a.py", None),
                     ("../secret.py", None)]
    text = intro("pytest", "Phase 1 of 2: …", [], files_block(files))
    assert text.startswith("You are the implementer") and "### src/a.py\n```\ndef a():" in text
    assert "### big.py\n(not included" in text and "KEY = 1" not in text
    assert text.index("### src/a.py") < text.index("The test command is") < text.index("Phase 1 of 2")
    again = intro("pytest", "Implement it.", ["keep the old name"], "")
    assert again.endswith(with_feedback(["keep the old name"]))
    assert '<data name="feedback from the human approver">\n- keep the old name\n</data>' in again
    assert with_feedback([]) == ""


def test_the_red_commit_records_its_tests_for_later_runs():
    message = red_message("a title", 7, Judgement(ok=True, new_tests=["t::a", "t::b"]))
    assert message.startswith("test: add failing tests for a title (#7)")
    assert red_tests_on_branch(["fix: x", message]) == ["t::a", "t::b"]
    assert red_tests_on_branch(["fix: x"]) is None
    assert red_tests_on_branch([red_message("t", 1, Judgement(ok=True))]) == []
