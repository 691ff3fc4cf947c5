"""agentos.repo.testreport: reading counts and test names from what a test runner reported."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agentos.repo.testreport import TestRun, parse_test_output, why_no_tests_ran


def test_test_run_is_json_serialisable_and_ok_needs_tests_when_counts_are_known():
    run = TestRun(command="x", exit_code=0, timed_out=False, duration_s=0.5, passed=0, failed=0,
                  errors=0, skipped=2, failed_tests=[], output="", counts_known=True)

    assert json.loads(json.dumps(asdict(run)))["skipped"] == 2
    assert not run.ok
    run.passed = 1
    assert run.ok
    run.counts_known, run.passed = False, 0
    assert run.ok
    run.exit_code = 1
    assert not run.ok


# --- parsers on sample outputs -------------------------------------------------------------

GO_OUTPUT = """\
--- FAIL: TestAdd (0.00s)
    math_test.go:9: got 3, want 4
    --- FAIL: TestAdd/negative (0.00s)
FAIL
FAIL\texample.com/calc/math\t0.004s
ok  \texample.com/calc/strings\t0.003s
?   \texample.com/calc/cmd\t[no test files]
# example.com/calc/broken
broken/x.go:3:1: syntax error
FAIL\texample.com/calc/broken [build failed]
FAIL
"""

GO_VERBOSE = """\
=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
--- SKIP: TestB (0.00s)
=== RUN   TestC
--- PASS: TestC (0.00s)
PASS
ok  \texample.com/x\t0.002s
"""

CARGO_OUTPUT = """\
running 3 tests
test tests::adds ... ok
test tests::subtracts ... FAILED
test tests::slow ... ignored

failures:

---- tests::subtracts stdout ----
thread 'tests::subtracts' panicked at src/lib.rs:10:9

failures:
    tests::subtracts

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests calc

running 2 tests
test src/lib.rs - add (line 3) ... ok
test src/lib.rs - sub (line 9) ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s
"""

JEST_OUTPUT = """\
FAIL src/sum.test.js
  ● math › adds numbers

    expect(received).toBe(expected)

PASS src/other.test.js
  ● Console

    console.log
      hello

Test Suites: 1 failed, 1 passed, 2 total
Tests:       1 failed, 1 skipped, 3 passed, 5 total
Snapshots:   0 total
Time:        0.52 s
"""

PYTEST_TEXT = """\
..F.s
=================================== FAILURES ===================================
FAILED tests/test_x.py::test_b - assert 1 == 2
ERROR tests/test_y.py - ImportError: nope
=========== 3 passed, 1 failed, 1 skipped, 1 error, 2 warnings in 0.12s ===========
"""

UNITTEST_TEXT = """\
test_a (m.T.test_a) ... ok
======================================================================
FAIL: test_b (m.T.test_b)
----------------------------------------------------------------------
ERROR: test_c (m.T)
----------------------------------------------------------------------
Ran 6 tests in 0.003s

FAILED (failures=1, errors=1, skipped=1, expected failures=1)
"""


@pytest.mark.parametrize("text, counts, names", [
    (GO_OUTPUT, (1, 1, 1, 0), ["TestAdd"]),
    (GO_VERBOSE, (2, 0, 0, 1), []),
    (CARGO_OUTPUT, (3, 1, 0, 1), ["tests::subtracts"]),
    ("   Compiling calc v0.1.0\nerror[E0308]: mismatched types\n"
     "error: could not compile `calc` (lib test) due to 1 previous error\n", (0, 0, 1, 0), []),
    (JEST_OUTPUT, (3, 1, 0, 1), ["math › adds numbers"]),
    (" Tests  2 failed | 5 passed (7)\n", (5, 2, 0, 0), []),
    (PYTEST_TEXT, (3, 1, 1, 1), ["tests/test_x.py::test_b", "tests/test_y.py"]),
    ("\x1b[32m5 passed\x1b[0m\x1b[32m in 0.01s\x1b[0m\n", (5, 0, 0, 0), []),
    (UNITTEST_TEXT, (2, 1, 1, 2), ["m.T.test_b", "m.T.test_c"]),
    ("Ran 4 tests in 0.001s\n\nOK (skipped=1)\n", (3, 0, 0, 1), []),
])
def test_parsers_on_sample_outputs(text, counts, names):
    parsed = parse_test_output(text)

    assert parsed is not None
    assert (parsed.passed, parsed.failed, parsed.errors, parsed.skipped) == counts
    assert parsed.failed_tests == names


def test_unrecognised_output_has_no_counts():
    assert parse_test_output("building...\ndone, everything fine\n") is None


@pytest.mark.parametrize("text, passed", [
    (GO_VERBOSE, ["TestA", "TestC"]),
    (CARGO_OUTPUT, ["tests::adds", "src/lib.rs - add (line 3)", "src/lib.rs - sub (line 9)"]),
    ("test_a (m.T) ... ok\ntest_b (m.T.test_b) ... ok\n\nRan 2 tests in 0.0s\n\nOK\n", ["m.T.test_a", "m.T.test_b"]),
])
def test_passing_test_names_are_read_where_the_runner_prints_them(text, passed):
    assert parse_test_output(text).passed_tests == passed


def test_names_are_complete_only_when_every_test_is_named():
    unnamed = parse_test_output(PYTEST_TEXT)  # pytest's text summary names failures only
    run = TestRun(command="x", exit_code=1, timed_out=False, duration_s=0.1, passed=unnamed.passed,
                  failed=unnamed.failed, errors=unnamed.errors, skipped=0, failed_tests=unnamed.failed_tests,
                  output="", counts_known=True, passed_tests=unnamed.passed_tests)
    assert not run.names_complete


# --- runs that did not really run the tests ------------------------------------------------

def counted(output: str = "", exit_code: int = 1, counts_known: bool = True, **counts) -> TestRun:
    fields = {"passed": 0, "failed": 0, "errors": 0, **counts}
    return TestRun(command="pytest", exit_code=exit_code, timed_out=False, duration_s=0.1, skipped=0,
                   failed_tests=[], output=output, counts_known=counts_known, **fields)


PLUGIN_ERROR = """\
Traceback (most recent call last):
pluggy._manager.PluginValidationError: Plugin '/w/tests/conftest.py' for hook 'pytest_ignore_collect'
hookimpl definition: pytest_ignore_collect(path, config)
Argument(s) {'path'} are declared in the hookimpl but can not be found in the hookspec
"""


@pytest.mark.parametrize("run, why", [
    (counted(PLUGIN_ERROR, counts_known=False), "it exited 1 without test results agentos recognises"),
    (counted("hello", exit_code=0, counts_known=False), "it exited 0 without test results agentos recognises"),
    (counted("no tests ran in 0.01s", exit_code=5), "it collected no tests"),
    (counted("1 error in 0.2s", exit_code=2, errors=1), "it stopped at collection or import: 1 error before any test ran"),
    (counted("ERROR: test_x (unittest.loader._FailedTest.test_x)\nRan 5 tests", passed=4, errors=1),
     "some tests could not be collected or imported (ERROR: test_x (unittest.loader._FailedTest.test_x))"),
    (counted("_____ ERROR collecting tests/test_y.py _____", passed=3, errors=1),
     "some tests could not be collected or imported (ERROR collecting tests/test_y.py)"),
])
def test_a_run_that_did_not_really_run_the_tests_says_why(run, why):
    assert why_no_tests_ran(run) == why


def test_runs_that_ran_tests_or_timed_out_have_no_such_reason():
    assert why_no_tests_ran(counted("3 passed, 1 failed in 0.1s", passed=3, failed=1)) is None
    timed_out = counted(counts_known=False)
    timed_out.timed_out, timed_out.exit_code = True, None
    assert why_no_tests_ran(timed_out) is None and not timed_out.results_unknown
    assert counted(counts_known=False).results_unknown


TAP = """\
TAP version 13
# immutable
ok 1 should be equal
not ok 2 merges deeply
  ---
ok 3 skipped one # SKIP not here
1..3
# tests 3
# pass  1
# fail  1
"""

# tape as minimist prints it: tests named by `# name` headers, assertions by a shared message.
TAPE = """\
TAP version 13
# -a -- b
ok 1 should be deeply equivalent
not ok 2 should be deeply equivalent
  ---
    operator: deepEqual
  ...
# long opts
ok 3 should be deeply equivalent
ok 4 should be deeply equivalent
# keeps every argument after --
not ok 5 should be deeply equivalent
# pass through
ok 6 should be equal

1..6
# tests 6
# pass  4
# fail  2
"""

NODE_TEST = """\
TAP version 13
# Subtest: parses flags
ok 1 - parses flags
  ---
  duration_ms: 1.2
  ...
# Subtest: keeps dashes
not ok 2 - keeps dashes
1..2
# tests 2
# pass 1
# fail 1
"""


def test_tape_tests_are_named_by_their_header_not_their_assertion_message():
    run = parse_test_output(TAPE)
    assert run.failed_tests == ["-a -- b", "keeps every argument after --"]
    assert run.passed_tests == ["long opts", "pass through"]
    assert (run.passed, run.failed) == (2, 2)


def test_node_test_tap_names_each_test_line():
    run = parse_test_output(NODE_TEST)
    assert run.failed_tests == ["keeps dashes"] and run.passed_tests == ["parses flags"]


MOCHA = """\
  clamp
    ✓ keeps values inside
    1) honours hi

  4 passing (12ms)
  1 failing
  2 pending
"""


def test_tap_and_mocha_summaries_are_read():
    tap = parse_test_output(TAP)
    assert (tap.passed, tap.failed, tap.skipped) == (0, 1, 1)
    assert tap.failed_tests == ["immutable"] and tap.passed_tests == []
    mocha = parse_test_output(MOCHA)
    assert (mocha.passed, mocha.failed, mocha.skipped) == (4, 1, 2)
