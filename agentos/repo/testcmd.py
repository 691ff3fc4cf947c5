"""The target repository's test command: which one runs its tests, why, and running it.

`detect` picks the command from evidence in the repository's files and says which (Python
projects through pydetect; then npm/yarn/pnpm scripts, go test, cargo test, make test);
`run_tests` runs it through the one process runner (a wall-clock limit, the whole process
group ended, only the head and the tail of the output kept) and reads the counts from what it
reported (see testreport).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentos.errors import TestCommandError
from agentos.process import run_bounded
from agentos.repo.pydetect import detect_python
from agentos.repo.testreport import TestCounts, TestRun, parse_junit, parse_test_output

from agentos.sandbox import refusal_note

if TYPE_CHECKING:
    from agentos.sandbox import Confinement

CONFIG_KEY = "orchestrator.stages.implementation.test_command"
SET_EXAMPLE = '--set stages.implementation.test_command="pytest -q"'
PARSE_WINDOW_CHARS = 2_000_000  # the last this-many characters of output are parsed for counts
NODE_LOCKS = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm"),
              ("npm-shrinkwrap.json", "npm"))


# --- detection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """A test command and, in a few words, the evidence it was chosen on."""

    command: str
    reason: str


def detect(worktree: Path) -> Detection:
    """The command that most likely runs this repository's tests, and why; TestCommandError if none."""
    for detector in (_python, _node, _go, _cargo, _make):
        if found := detector(worktree):
            return found
    raise TestCommandError(
        f"no test command could be detected in {worktree}",
        f"set {CONFIG_KEY} in .agentos/config.yaml, or pass {SET_EXAMPLE}",
    )


def detect_test_command(worktree: Path) -> str:
    """The command that most likely runs this repository's tests; TestCommandError if none."""
    return detect(worktree).command


def describe_test_command(root: Path, configured: str | None = None) -> tuple[str | None, str]:
    """(command, why) for `agentos doctor` and `--dry-run`: the configured command when set,
    else the detected one with its evidence, else (None, what to set)."""
    if configured:
        return configured, f"set in {CONFIG_KEY}"
    try:
        found = detect(root)
    except TestCommandError as exc:
        return None, f"{exc.message}; {exc.hint}"
    return found.command, found.reason


def _python(root: Path) -> Detection | None:
    found = detect_python(root)
    return Detection(*found) if found else None


def _node(root: Path) -> Detection | None:
    script = _npm_test_script(root)
    if not script:
        return None
    tool, lock = next(((tool, lock) for lock, tool in NODE_LOCKS if (root / lock).is_file()), ("npm", None))
    chosen = f", {tool} from {lock}" if lock else ""
    return Detection(f"{tool} test", f"{tool}: package.json scripts.test `{script}`{chosen}")


def _go(root: Path) -> Detection | None:
    if (root / "go.mod").is_file():
        return Detection("go test -v ./...", "go: go.mod")  # -v names the passing tests too
    return None


def _cargo(root: Path) -> Detection | None:
    return Detection("cargo test", "cargo: Cargo.toml") if (root / "Cargo.toml").is_file() else None


def _make(root: Path) -> Detection | None:
    makefiles = [root / n for n in ("GNUmakefile", "makefile", "Makefile")]
    found = next((p for p in makefiles if p.is_file() and _mentions(p, r"(?m)^test\s*:(?!=)")), None)
    return Detection("make test", f"make: {found.name} has a test target") if found else None


def _mentions(path: Path, pattern: str) -> bool:
    try:
        return bool(re.search(pattern, path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def _npm_test_script(root: Path) -> str | None:
    try:
        scripts = json.loads((root / "package.json").read_text(encoding="utf-8")).get("scripts")
    except (OSError, ValueError, AttributeError):
        return None
    script = scripts.get("test") if isinstance(scripts, dict) else None
    # `npm init` writes a placeholder that always fails; it is not a test suite.
    return str(script) if script and "no test specified" not in str(script) else None


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
    confine: Confinement | None = None,
) -> TestRun:
    """Run `command` through the shell in `cwd` and report what happened.

    A failing or hanging command is reported, never raised (a hang is killed, with its
    whole process group, after `timeout_s`). Only a command that cannot start at all raises
    TestCommandError. `env` entries are added to (and override) the current environment;
    with `confine` the command runs in that sandbox (which may write the junit report only).
    """
    with tempfile.TemporaryDirectory(prefix="agentos-tests-") as tmp:
        junit = Path(tmp) / "junit.xml"
        try:
            run = run_bounded(_with_junit(command, junit), cwd, timeout_s, env=env, head_chars=max_output_chars,
                              tail_chars=max(max_output_chars, PARSE_WINDOW_CHARS),
                              confine=confine.also_writable(Path(tmp)) if confine else None)
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
    output = run.clipped(max_output_chars)
    if confine is not None and run.exit_code != 0 and (note := refusal_note(output, confine)):
        output += f"\n{note}\n"
    return TestRun(
        command=command, exit_code=run.exit_code, timed_out=run.timed_out, duration_s=run.duration_s,
        passed=known.passed, failed=known.failed, errors=known.errors, skipped=known.skipped,
        failed_tests=known.failed_tests, output=output,
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
