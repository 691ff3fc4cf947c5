"""Detect and run the target repository's tests, and read what they reported.

`detect_test_command` guesses the command from marker files; `run_tests` runs it with a
wall-clock limit (killing the whole process group past it), streams its output through a
pipe keeping only the head and the tail (memory and disk stay flat however much it prints),
and extracts pass/fail counts, and test names where the runner gives them, from a JUnit XML
report (pytest) or from the text of pytest, unittest, go test, cargo test or jest.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from agentos.errors import TestCommandError

CONFIG_KEY = "orchestrator.stages.implementation.test_command"
SET_EXAMPLE = '--set stages.implementation.test_command="pytest -q"'
KILL_GRACE_S = 2.0
PARSE_WINDOW_CHARS = 2_000_000  # the last this-many characters of output are parsed for counts
_CHUNK = 1 << 20
_SKIP_DIRS = {"node_modules", "site-packages", "venv", "env", "build", "dist", "target"}


@dataclass
class TestRun:
    """The outcome of one run of the test command."""

    __test__ = False  # not a pytest test class

    command: str
    exit_code: int | None  # None when killed on timeout
    timed_out: bool
    duration_s: float
    passed: int
    failed: int
    errors: int
    skipped: int
    failed_tests: list[str]
    output: str  # head and tail of the merged stdout/stderr
    counts_known: bool
    timeout_s: float | None = None
    passed_tests: list[str] = field(default_factory=list)
    """Names of the passing tests, for the runners that print them (see `names_complete`)."""

    @property
    def names_complete(self) -> bool:
        """Whether every test that ran is named, passing or failing, so runs can be compared by name."""
        return (self.counts_known and len(self.passed_tests) == self.passed
                and len(self.failed_tests) == self.failed + self.errors)

    @property
    def ok(self) -> bool:
        """Exited 0 in time with no failures or errors, and ran at least one test if we can tell."""
        clean = self.exit_code == 0 and not self.timed_out and self.failed == self.errors == 0
        return clean and (self.passed > 0 or not self.counts_known)

    def summary(self) -> str:
        """One line, e.g. `12 passed, 1 failed, 0 errors in 3.2s`."""
        if self.timed_out:
            return f"timed out after {self.timeout_s or self.duration_s:.0f}s"
        took = f"in {self.duration_s:.1f}s"
        if not self.counts_known:
            return f"exit code {self.exit_code} {took} (no test counts recognised)"
        text = f"{self.passed} passed, {self.failed} failed, {self.errors} errors"
        text += f", {self.skipped} skipped" if self.skipped else ""
        text += f" {took}"
        if self.exit_code != 0 and self.failed == self.errors == 0:
            text += f" (exit code {self.exit_code})"
        return text


@dataclass
class TestCounts:
    """What a test runner reported about how many tests passed and which failed."""

    __test__ = False

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failed_tests: list[str] = field(default_factory=list)
    passed_tests: list[str] = field(default_factory=list)


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
            run = run_bounded(_with_junit(command, junit), cwd, timeout_s, env, head_chars=max_output_chars,
                              tail_chars=max(max_output_chars, PARSE_WINDOW_CHARS))
        except OSError as exc:
            raise TestCommandError(
                f"the test command {command!r} could not be started in {cwd}: {exc.strerror}",
                f"check the directory exists, or set {CONFIG_KEY}",
            ) from None
        counts = _parse_junit(junit, cwd) if junit.is_file() else None
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


@dataclass
class BoundedRun:
    """What a command run by `run_bounded` did; of its output only the two ends are kept."""

    exit_code: int | None  # None when killed on timeout
    timed_out: bool
    duration_s: float
    head: str
    tail: str
    total_chars: int

    def clipped(self, max_chars: int) -> str:
        """The output if it fits in `max_chars`, else its head and tail around a cut marker."""
        return _clip(self.head, self.tail, self.total_chars, max_chars)


def run_bounded(
    command: str | list[str],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
    stdin_path: Path | None = None,
    head_chars: int = 20000,
    tail_chars: int = PARSE_WINDOW_CHARS,
) -> BoundedRun:
    """Run a shell string or an argv list in a session of its own, within `timeout_s`.

    Output (stdout and stderr merged) is read through a pipe as it comes and only its first
    `head_chars` and last `tail_chars` characters are kept, so a command printing gigabytes
    costs neither memory nor disk. Past the timeout, and in any case once the command ends,
    its whole process group is ended. Raises OSError only when the command cannot start.
    """
    child_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    ends = _Ends(head_chars, tail_chars)
    started = time.monotonic()
    with (open(stdin_path, "rb") if stdin_path else contextlib.nullcontext(subprocess.DEVNULL)) as stdin:
        proc = subprocess.Popen(
            command, shell=isinstance(command, str), cwd=cwd, env=child_env, stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    reader = threading.Thread(target=_drain, args=(proc.stdout, ends), daemon=True)
    reader.start()
    ended = threading.Event()
    # A blocking wait in a thread: Popen.wait(timeout) polls with sleeps of up to 50 ms.
    threading.Thread(target=lambda: (proc.wait(), ended.set()), daemon=True).start()
    timed_out = not ended.wait(timeout_s)
    exit_code = None if timed_out else proc.returncode
    _end_group(proc)  # on timeout the hang; otherwise anything it left running in background
    # A process that left the group (setsid) may still hold the pipe: do not wait for it.
    reader.join(timeout=KILL_GRACE_S + 1)
    head, tail, total = ends.snapshot()
    return BoundedRun(exit_code, timed_out, round(time.monotonic() - started, 3), head, tail, total)


def _drain(pipe, ends: _Ends) -> None:
    """Feed everything the pipe delivers, decoded as UTF-8, into `ends` until it closes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with pipe:
        while chunk := pipe.read1(_CHUNK):
            ends.feed(decoder.decode(chunk))
    ends.feed(decoder.decode(b"", final=True))


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM every process in `proc`'s group, then SIGKILL what is left after a grace."""
    pgid = proc.pid
    if not _signal_group(pgid, signal.SIGTERM):
        proc.wait()
        return
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so it stops counting as a member
        if not _group_alive(pgid):
            break
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when the group has no processes left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    proc_fs = Path("/proc")
    if not proc_fs.is_dir():
        return _signal_group(pgid, 0)
    for stat in proc_fs.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


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


# --- output ------------------------------------------------------------------------------


class _Ends:
    """The first and last characters of a text fed in pieces, and its length."""

    def __init__(self, head_chars: int, tail_chars: int):
        self.head_chars, self.tail_chars = head_chars, tail_chars
        self.head: list[str] = []
        self.head_len = 0
        self.tail: deque[str] = deque()
        self.tail_len = 0
        self.total = 0

    def feed(self, text: str) -> None:
        self.total += len(text)
        if self.head_len < self.head_chars:
            piece = text[: self.head_chars - self.head_len]
            self.head.append(piece)
            self.head_len += len(piece)
        self.tail.append(text)
        self.tail_len += len(text)
        while self.tail and self.tail_len - len(self.tail[0]) >= self.tail_chars:
            self.tail_len -= len(self.tail.popleft())

    def snapshot(self) -> tuple[str, str, int]:
        """(first head_chars, last tail_chars, total characters) fed so far."""
        tail = "".join(self.tail)
        return "".join(self.head), tail[len(tail) - min(self.tail_chars, len(tail)):], self.total


def _clip(head: str, tail: str, total: int, max_chars: int) -> str:
    """The whole output if it fits, else ~20% head and ~80% tail around a cut marker."""
    if total <= max_chars:
        return tail  # the tail window is at least max_chars, so it holds everything
    budget = max(0, max_chars - 80)  # room for the marker line
    head_n = budget // 5
    tail_n = budget - head_n
    cut = total - head_n - tail_n
    marker = f"\n[… {cut:,} characters of output cut …]\n"
    return head[:head_n] + marker + (tail[-tail_n:] if tail_n else "")


# --- counts ------------------------------------------------------------------------------


def _parse_junit(path: Path, root: Path) -> TestCounts | None:
    """Counts and failed test ids (`file::Class::name`) from a pytest JUnit XML report."""
    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (ET.ParseError, OSError):
        return None
    counts = TestCounts()
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            counts.failed_tests.append(_junit_id(case, root))
        if case.find("failure") is not None:
            counts.failed += 1
        elif case.find("error") is not None:
            counts.errors += 1
        elif case.find("skipped") is not None:
            counts.skipped += 1
        else:
            counts.passed += 1
            counts.passed_tests.append(_junit_id(case, root))
    return counts


def _junit_id(case: ET.Element, root: Path) -> str:
    """`tests/test_x.py::TestY::test_z` from classname `tests.test_x.TestY` and name `test_z`."""
    classname, name = case.get("classname", ""), case.get("name", "")
    parts = classname.split(".") if classname else []
    for i in range(len(parts), 0, -1):
        module = "/".join(parts[:i]) + ".py"
        if (root / module).is_file():
            return "::".join([module, *parts[i:], name])
    return "::".join([p for p in (classname, name) if p])


def parse_test_output(text: str) -> TestCounts | None:
    """Counts from the text summary of pytest, unittest, cargo, jest or go test; None if none.

    Jest is tried before go test because jest also prints `FAIL path` lines.
    """
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r\n", "\n")
    for parser in (_parse_pytest, _parse_unittest, _parse_cargo, _parse_jest, _parse_go):
        if (counts := parser(text)) is not None:
            return counts
    return None


_PYTEST_SUMMARY = re.compile(r"^[=\s]*((?:\d+ [a-z]+(?:, )?)+|no tests ran) in [\d.]+s\b", re.M)
_PYTEST_WORDS = {"passed": "passed", "xpassed": "passed", "failed": "failed", "error": "errors",
                 "errors": "errors", "skipped": "skipped", "xfailed": "skipped"}


def _parse_pytest(text: str) -> TestCounts | None:
    """`=== 3 passed, 1 failed in 0.12s ===` plus `FAILED path::test - …` lines."""
    summaries = _PYTEST_SUMMARY.findall(text)
    if not summaries:
        return None
    counts = TestCounts()
    for number, word in re.findall(r"(\d+) ([a-z]+)", summaries[-1]):
        if word in _PYTEST_WORDS:
            attr = _PYTEST_WORDS[word]
            setattr(counts, attr, getattr(counts, attr) + int(number))
    counts.failed_tests = _unique(re.findall(r"(?m)^(?:FAILED|ERROR) (?!\()(\S+)", text))
    return counts


_UNITTEST_RESULT = re.compile(r"(?m)^Ran (\d+) tests? in .*\n(?:\s*\n)*(OK|FAILED)\b(?: \((.*)\))?")


def _parse_unittest(text: str) -> TestCounts | None:
    """`Ran 4 tests in 0.01s` then `OK` or `FAILED (failures=1, errors=2, skipped=1)`."""
    results = _UNITTEST_RESULT.findall(text)
    if not results:
        return None
    counts = TestCounts()
    for ran, _, details in results:
        found = {k.strip(): int(v) for k, v in re.findall(r"([a-z ]+)=(\d+)", details)}
        failed = found.get("failures", 0) + found.get("unexpected successes", 0)
        skipped = found.get("skipped", 0) + found.get("expected failures", 0)
        errors = found.get("errors", 0)
        counts.failed += failed
        counts.errors += errors
        counts.skipped += skipped
        counts.passed += max(0, int(ran) - failed - errors - skipped)
    names = re.findall(r"(?m)^(?:FAIL|ERROR): (\S+) \(([^)\s]+)\)", text)
    counts.failed_tests = _unique(_unittest_name(t, p) for t, p in names)
    passing = re.findall(r"(?m)^(\w+) \(([^)\s]+)\)[^\n]*? \.\.\. ok$", text)  # from -v
    counts.passed_tests = _unique(_unittest_name(t, p) for t, p in passing)
    return counts


def _unittest_name(test: str, where: str) -> str:
    """`module.Class.test`, from Python >= 3.11's `(module.Class.test)` or older `(module.Class)`."""
    return where if where.endswith(f".{test}") else f"{where}.{test}"


def _parse_cargo(text: str) -> TestCounts | None:
    """`test result: ok. 3 passed; 1 failed; 0 ignored; …` (one per test binary, summed)."""
    results = re.findall(r"(?m)^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text)
    no_build = re.search(r"(?m)^error: could not compile", text) is not None
    if not results and not no_build:
        return None
    counts = TestCounts(errors=int(no_build))
    for passed, failed, ignored in results:
        counts.passed += int(passed)
        counts.failed += int(failed)
        counts.skipped += int(ignored)
    counts.failed_tests = _unique(re.findall(r"(?m)^test (.+?) \.\.\. FAILED", text))
    counts.passed_tests = _unique(re.findall(r"(?m)^test (.+?) \.\.\. ok$", text))
    return counts


_GO_LINE = re.compile(
    r"(?m)^(?:--- (?P<status>PASS|FAIL|SKIP): (?P<test>\S+).*"
    r"|(?P<pkg>ok|FAIL|\?)[ \t]+\S+.*)$"
)


def _parse_go(text: str) -> TestCounts | None:
    """Top-level `--- FAIL: TestX` lines and `ok`/`FAIL` package lines.

    Without -v, go test names only failing tests, so passing packages count as passed.
    A package that fails without any failing test (build error, panic) counts as an error.
    """
    counts, seen, ok_packages, fails_in_package = TestCounts(), False, 0, 0
    for m in _GO_LINE.finditer(text):
        seen = True
        if m["status"] == "FAIL":
            counts.failed += 1
            fails_in_package += 1
            counts.failed_tests.append(m["test"])
        elif m["status"]:
            counts.passed += m["status"] == "PASS"
            counts.skipped += m["status"] == "SKIP"
            counts.passed_tests += [m["test"]] if m["status"] == "PASS" else []
        elif m["pkg"] in ("ok", "FAIL"):
            ok_packages += m["pkg"] == "ok"
            counts.errors += m["pkg"] == "FAIL" and fails_in_package == 0
            fails_in_package = 0
    if not seen:
        return None
    if counts.passed == 0:
        counts.passed = ok_packages
    counts.failed_tests = _unique(counts.failed_tests)
    counts.passed_tests = _unique(counts.passed_tests)
    return counts


def _parse_jest(text: str) -> TestCounts | None:
    """`Tests:       1 failed, 1 skipped, 2 passed, 4 total` and `● Suite › test` headers."""
    lines = re.findall(r"(?m)^\s*Tests:?\s+((?:\d+ [a-z]+[,|\s]*)+)", text)
    if not lines:
        return None
    found = {word: int(n) for n, word in re.findall(r"(\d+) ([a-z]+)", lines[-1])}
    suites_broken = len(re.findall(r"(?m)^\s*● Test suite failed to run", text))
    headers = re.findall(r"(?m)^\s*● (.+?)\s*$", text)
    failed = [h for h in headers if h not in ("Test suite failed to run", "Console")]
    return TestCounts(
        passed=found.get("passed", 0), failed=found.get("failed", 0), errors=suites_broken,
        skipped=found.get("skipped", 0) + found.get("todo", 0), failed_tests=_unique(failed),
    )


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))
