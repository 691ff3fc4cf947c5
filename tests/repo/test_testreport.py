"""agentos.repo.testreport: reading counts and test names from what a test runner reported."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agentos.repo.testreport import TestRun, parse_test_output


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
