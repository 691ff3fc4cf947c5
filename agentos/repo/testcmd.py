"""The target repository's test command: which one runs its tests, and running it.

`detect_test_command` guesses the command from marker files; `run_tests` runs it through the
one process runner (a wall-clock limit, the whole process group ended, only the head and the
tail of the output kept) and reads the counts from what it reported (see testreport).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from agentos.errors import TestCommandError
from agentos.process import run_bounded
from agentos.repo.testreport import TestCounts, TestRun, parse_junit, parse_test_output

CONFIG_KEY = "orchestrator.stages.implementation.test_command"
SET_EXAMPLE = '--set stages.implementation.test_command="pytest -q"'
PARSE_WINDOW_CHARS = 2_000_000  # the last this-many characters of output are parsed for counts
_SKIP_DIRS = {"node_modules", "site-packages", "venv", "env", "build", "dist", "target"}


# --- detection ---------------------------------------------------------------------------


def detect_test_command(worktree: Path) -> str:
    """The command that most likely runs this repository's tests; TestCommandError if none."""
    if _declares_pytest(worktree):
        return "{python} -m pytest -q"
    if _has_file(worktree, lambda name: name.endswith(".py") and _is_test_module(name)):
        extra = " -s tests -t ." if (worktree / "tests").is_dir() else ""
        return "{python} -m unittest discover -v" + extra
    if _npm_test_script(worktree):
        return "npm test"
    if (worktree / "go.mod").is_file():
        return "go test -v ./..."  # -v names the passing tests too
    if (worktree / "Cargo.toml").is_file():
        return "cargo test"
    if _make_has_test(worktree):
        return "make test"
    raise TestCommandError(
        f"no test command could be detected in {worktree}",
        f"set {CONFIG_KEY} in .agentos/config.yaml, or pass {SET_EXAMPLE}",
    )


def _declares_pytest(root: Path) -> bool:
    if (root / "pytest.ini").is_file() or _has_file(root, lambda name: name == "conftest.py"):
        return True
    candidates = [root / n for n in ("pyproject.toml", "setup.cfg", "tox.ini")]
    candidates += sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt"))
    return any(_mentions(path, r"\bpytest\b") for path in candidates)


def _is_test_module(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py")


def _has_file(root: Path, wanted) -> bool:
    """Whether any file under `root` (skipping hidden, vendored and build dirs) is `wanted`."""
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        if any(wanted(name) for name in files):
            return True
    return False


def _mentions(path: Path, pattern: str) -> bool:
    try:
        return bool(re.search(pattern, path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def _npm_test_script(root: Path) -> bool:
    try:
        scripts = json.loads((root / "package.json").read_text(encoding="utf-8")).get("scripts")
    except (OSError, ValueError, AttributeError):
        return False
    script = scripts.get("test") if isinstance(scripts, dict) else None
    # `npm init` writes a placeholder that always fails; it is not a test suite.
    return bool(script) and "no test specified" not in str(script)


def _make_has_test(root: Path) -> bool:
    makefiles = [root / n for n in ("GNUmakefile", "makefile", "Makefile")]
    return any(_mentions(path, r"(?m)^test\s*:(?!=)") for path in makefiles if path.is_file())


def expand_command(command: str, worktree: Path) -> str:
    """Replace `{python}` with the worktree's .venv Python if it has one, else ours."""
    venv_python = worktree / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    return command.replace("{python}", shlex.quote(python))


# --- running -----------------------------------------------------------------------------


def run_tests(
    command: str,
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
    max_output_chars: int = 20000,
) -> TestRun:
    """Run `command` through the shell in `cwd` and report what happened.

    A failing or hanging command is reported, never raised (a hang is killed, with its
    whole process group, after `timeout_s`). Only a command that cannot start at all raises
    TestCommandError. `env` entries are added to (and override) the current environment.
    """
    with tempfile.TemporaryDirectory(prefix="agentos-tests-") as tmp:
        junit = Path(tmp) / "junit.xml"
        try:
            run = run_bounded(_with_junit(command, junit), cwd, timeout_s, env=env, head_chars=max_output_chars,
                              tail_chars=max(max_output_chars, PARSE_WINDOW_CHARS))
        except OSError as exc:
            raise TestCommandError(
                f"the test command {command!r} could not be started in {cwd}: {exc.strerror}",
                f"check the directory exists, or set {CONFIG_KEY}",
            ) from None
        counts = parse_junit(junit, cwd) if junit.is_file() else None
    if run.exit_code in (126, 127) and _shell_could_not_start(run.tail):
        raise _cannot_start(command, run.exit_code, run.tail)
    counts = counts or parse_test_output(run.tail)
    known = counts or TestCounts()
    return TestRun(
        command=command, exit_code=run.exit_code, timed_out=run.timed_out, duration_s=run.duration_s,
        passed=known.passed, failed=known.failed, errors=known.errors, skipped=known.skipped,
        failed_tests=known.failed_tests, output=run.clipped(max_output_chars),
        counts_known=counts is not None, timeout_s=timeout_s, passed_tests=known.passed_tests,
    )


def _with_junit(command: str, junit: Path) -> str:
    """`command` with `--junitxml=JUNIT` appended when it ends by running pytest."""
    if not _runs_pytest_last(command):
        return command
    return f"{command.rstrip()} --junitxml={shlex.quote(str(junit))}"


_CONTROL_OPERATORS = {";", "&&", "||", "|", "&", "|&", ";;", "(", ")", "\n"}


def _runs_pytest_last(command: str) -> bool:
    """Whether the last simple command is pytest, so `--junitxml=…` can be appended."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        tokens = list(lexer)
    except ValueError:
        return False
    if any(t.startswith("#") or "junitxml" in t for t in tokens):
        return False
    cuts = [i for i, t in enumerate(tokens) if t in _CONTROL_OPERATORS]
    last = tokens[cuts[-1] + 1:] if cuts else tokens
    runs_module = any(a == "-m" and b == "pytest" for a, b in zip(last, last[1:]))
    return runs_module or any(Path(t).name in ("pytest", "py.test") for t in last)


def _shell_could_not_start(tail: str) -> bool:
    end = tail[-2000:]
    return bool(re.search(r"not found|No such file or directory|Permission denied|cannot execute",
                          end))


def _cannot_start(command: str, exit_code: int, tail: str) -> TestCommandError:
    said = next((line for line in reversed(tail.strip().splitlines()) if line.strip()), "")
    return TestCommandError(
        f"the test command {command!r} could not be started (exit {exit_code}: {said.strip()})",
        f"install what it needs, or set {CONFIG_KEY} to a working command, e.g. {SET_EXAMPLE}",
    )
