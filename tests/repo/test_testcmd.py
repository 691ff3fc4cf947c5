"""agentos.repo.testcmd: detecting the target repository's test command and running it."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from agentos.errors import TestCommandError
from agentos.repo.testcmd import CONFIG_KEY, _runs_pytest_last, detect_test_command, expand_command, run_tests
from tests.llm.fakes.cli import gone


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


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to check processes")
def test_a_hanging_command_is_killed_with_its_children(tmp_path: Path):
    command = "bash -c 'sleep 60 & echo $! > child.pid; sleep 60'"

    run = run_tests(command, tmp_path, timeout_s=1)

    child = int((tmp_path / "child.pid").read_text())
    assert run.timed_out and run.exit_code is None and not run.ok
    assert run.duration_s < 30
    assert run.summary() == "timed out after 1s"
    assert gone(child), "the grandchild survived the timeout"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to check processes")
def test_background_processes_left_behind_are_cleaned_up(tmp_path: Path):
    run = run_tests("sleep 60 & echo $! > child.pid", tmp_path, timeout_s=30)

    assert run.exit_code == 0 and not run.timed_out
    assert gone(int((tmp_path / "child.pid").read_text()))


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
