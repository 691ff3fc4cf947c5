"""agentos.repo.tests: detecting, running and reading the target repository's tests."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from agentos.errors import TestCommandError
from agentos.repo.tests import (
    CONFIG_KEY,
    TestRun,
    _runs_pytest_last,
    detect_test_command,
    expand_command,
    parse_test_output,
    run_bounded,
    run_tests,
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- detection -----------------------------------------------------------------------------

PYTEST = "{python} -m pytest -q"


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"pyproject.toml": "[project.optional-dependencies]\ntest = ['pytest>=8']\n"}, PYTEST),
        ({"setup.cfg": "[tool:pytest]\naddopts = -q\n"}, PYTEST),
        ({"tox.ini": "[testenv]\ncommands = pytest\n"}, PYTEST),
        ({"pytest.ini": "[pytest]\n"}, PYTEST),
        ({"requirements-dev.txt": "black\npytest==8.0\n"}, PYTEST),
        ({"tests/conftest.py": "", "tests/test_a.py": ""}, PYTEST),
        ({"pyproject.toml": "[project]\nname='x'\n", "tests/test_a.py": ""},
         "{python} -m unittest discover -v -s tests -t ."),
        ({"pkg/thing_test.py": ""}, "{python} -m unittest discover -v"),
        ({"package.json": json.dumps({"scripts": {"test": "jest"}})}, "npm test"),
        ({"package.json": json.dumps({"scripts": {"test": "jest"}}),
          "node_modules/dep/test_vendored.py": ""}, "npm test"),
        ({"go.mod": "module example.com/x\n"}, "go test -v ./..."),
        ({"Cargo.toml": "[package]\nname = 'x'\n"}, "cargo test"),
        ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./run-tests\n"}, "make test"),
        ({"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" '
                                                          "&& exit 1"}}),
          "Makefile": "test:\n\t./t\n"}, "make test"),
    ],
)
def test_detects_the_test_command_from_marker_files(tmp_path: Path, files, expected):
    assert detect_test_command(write(tmp_path, files)) == expected


@pytest.mark.parametrize("files", [
    {},
    {"README.md": "hi\n"},
    {"Makefile": "build:\n\tcc x.c\nTESTS := a b\n"},
    {"package.json": json.dumps({"scripts": {"build": "tsc"}})},
    {".hidden/test_x.py": ""},
])
def test_nothing_detected_raises_with_the_config_key(tmp_path: Path, files):
    with pytest.raises(TestCommandError) as info:
        detect_test_command(write(tmp_path, files))

    assert "no test command could be detected" in info.value.message
    assert CONFIG_KEY in info.value.hint
    assert "--set stages.implementation.test_command=" in info.value.hint
    assert info.value.exit_code == 2


def test_expand_command_prefers_the_worktrees_venv(tmp_path: Path):
    root = tmp_path / "my repo"
    root.mkdir()
    assert expand_command("{python} -m pytest", root) == f"{shlex.quote(sys.executable)} -m pytest"

    venv_python = root / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    expanded = expand_command("{python} -m pytest -q", root)
    assert expanded == f"'{venv_python}' -m pytest -q"
    assert shlex.split(expanded)[0] == str(venv_python)


# --- real runs -----------------------------------------------------------------------------

SAMPLE_PYTEST = """
import pytest

def test_one():
    assert 1 + 1 == 2

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

class TestThing:
    def test_good(self):
        assert True

    def test_bad(self):
        assert "agentos" == "nope"
"""


def test_pytest_counts_come_from_the_junit_report(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # run_tests must set it
    write(tmp_path, {"tests/test_sample.py": SAMPLE_PYTEST})
    # Terminal output goes to /dev/null, so the counts can only come from --junitxml.
    command = expand_command("{python} -m pytest -q -p no:cacheprovider > /dev/null", tmp_path)

    run = run_tests(command, tmp_path, timeout_s=60)

    assert run.output == ""
    assert run.counts_known
    assert (run.passed, run.failed, run.errors, run.skipped) == (3, 2, 0, 1)
    assert run.failed_tests == ["tests/test_sample.py::test_param[2]",
                                "tests/test_sample.py::TestThing::test_bad"]
    assert run.exit_code == 1 and not run.ok
    assert run.command == command
    assert re.fullmatch(r"3 passed, 2 failed, 0 errors, 1 skipped in \d+\.\ds", run.summary())
    assert not list(tmp_path.rglob("*.pyc")), "bytecode must not be written into the worktree"
    assert run.passed_tests == ["tests/test_sample.py::test_one", "tests/test_sample.py::test_param[1]",
                                "tests/test_sample.py::TestThing::test_good"]
    assert run.names_complete


def test_a_passing_pytest_run_is_ok_and_shows_its_output(tmp_path: Path):
    write(tmp_path, {"test_ok.py": "def test_a():\n    assert True\n"})
    command = expand_command("{python} -m pytest -q -p no:cacheprovider", tmp_path)

    run = run_tests(command, tmp_path, timeout_s=60)

    assert run.ok, run.output
    assert (run.passed, run.failed) == (1, 0)
    assert "1 passed" in run.output


SAMPLE_UNITTEST = """
import unittest

class T(unittest.TestCase):
    def test_pass(self):
        self.assertTrue(True)

    def test_fail(self):
        self.assertEqual(1, 2)

    def test_error(self):
        raise RuntimeError("boom")

    @unittest.skip("later")
    def test_skip(self):
        pass
"""


def test_unittest_counts_and_names_from_a_real_run(tmp_path: Path):
    write(tmp_path, {"tests/__init__.py": "", "tests/test_u.py": SAMPLE_UNITTEST})
    command = expand_command(detect_test_command(tmp_path), tmp_path)

    run = run_tests(command, tmp_path, timeout_s=60)

    assert run.counts_known, run.output
    assert (run.passed, run.failed, run.errors, run.skipped) == (1, 1, 1, 1)
    assert sorted(run.failed_tests) == ["tests.test_u.T.test_error", "tests.test_u.T.test_fail"]
    assert run.exit_code == 1 and not run.ok
    assert run.passed_tests == ["tests.test_u.T.test_pass"] and run.names_complete


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has already died


def _wait_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to check processes")
def test_a_hanging_command_is_killed_with_its_children(tmp_path: Path):
    command = "bash -c 'sleep 60 & echo $! > child.pid; sleep 60'"

    run = run_tests(command, tmp_path, timeout_s=1)

    child = int((tmp_path / "child.pid").read_text())
    assert run.timed_out and run.exit_code is None and not run.ok
    assert run.duration_s < 30
    assert run.summary() == "timed out after 1s"
    assert _wait_gone(child), "the grandchild survived the timeout"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to check processes")
def test_background_processes_left_behind_are_cleaned_up(tmp_path: Path):
    run = run_tests("sleep 60 & echo $! > child.pid", tmp_path, timeout_s=30)

    assert run.exit_code == 0 and not run.timed_out
    assert _wait_gone(int((tmp_path / "child.pid").read_text()))


def test_huge_output_is_truncated_to_head_and_tail(tmp_path: Path):
    total = 200_000_000
    run = run_tests(f"yes | head -c {total}", tmp_path, timeout_s=120, max_output_chars=20_000)

    assert run.exit_code == 0
    assert len(run.output) <= 20_000
    marker = re.search(r"\n\[… ([\d,]+) characters of output cut …\]\n", run.output)
    assert marker is not None
    head, tail = run.output[:marker.start()], run.output[marker.end():]
    cut = int(marker.group(1).replace(",", ""))
    assert len(head) + cut + len(tail) == total
    assert len(tail) > 3 * len(head) > 0
    assert set(head) | set(tail) == {"y", "\n"}
    assert not run.counts_known


def test_small_output_is_kept_whole_and_env_is_passed(tmp_path: Path):
    run = run_tests('printf "%s\\n" "$AGENTOS_PROBE" "$PWD"; exit 3', tmp_path, timeout_s=30,
                    env={"AGENTOS_PROBE": "probe-value"})

    assert run.output == f"probe-value\n{tmp_path}\n"
    assert run.exit_code == 3 and not run.timed_out and not run.ok
    assert not run.counts_known
    assert "exit code 3" in run.summary()


def test_a_command_that_does_not_exist_raises(tmp_path: Path):
    with pytest.raises(TestCommandError) as info:
        run_tests("agentos-no-such-runner --all", tmp_path, timeout_s=30)

    assert "agentos-no-such-runner --all" in info.value.message
    assert CONFIG_KEY in info.value.hint


def test_a_missing_working_directory_raises(tmp_path: Path):
    with pytest.raises(TestCommandError):
        run_tests("true", tmp_path / "missing", timeout_s=30)


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


@pytest.mark.parametrize("command, appended", [
    ("pytest -q", True),
    ("/x/.venv/bin/python -m pytest -q tests/", True),
    ("cd sub && pytest", True),
    ("python -m pytest -q 2>&1", True),
    ("pytest -q; echo done", False),
    ("pytest -q | tee log", False),
    ("pytest --junitxml=mine.xml", False),
    ("pytest -q # comment", False),
    ("make test", False),
    ("python -m unittest", False),
])
def test_junit_is_only_appended_when_pytest_ends_the_command(command, appended):
    assert _runs_pytest_last(command) is appended


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


def test_run_bounded_takes_an_argv_and_stdin_and_keeps_only_the_ends(tmp_path: Path):
    task = tmp_path / "task.md"
    task.write_text("the task\n")
    script = "import sys; print(sys.stdin.read().strip()); print('x' * 100000)"

    run = run_bounded([sys.executable, "-c", script], tmp_path, timeout_s=30, stdin_path=task,
                      head_chars=50, tail_chars=50)

    assert run.exit_code == 0 and run.total_chars == len("the task\n") + 100001
    assert run.head.startswith("the task\nxxx") and len(run.head) == 50 and len(run.tail) == 50
    assert "characters of output cut" in run.clipped(200)
