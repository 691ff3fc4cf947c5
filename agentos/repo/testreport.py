"""What a test run reported: pass/fail counts, and test names where the runner gives them.

`TestRun` is the outcome of one run of the test command (see testcmd.run_tests). Its counts
come from a JUnit XML report (pytest), else from the text the runner printed: pytest,
unittest, go test, cargo test, jest, mocha or TAP (tape, node --test). A run whose results
cannot be read says nothing about the tests (`results_unknown`), and a base run must really
run them (`why_no_tests_ran`). Nothing here runs a process.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from agentos.progress.view import plural


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
    def results_unknown(self) -> bool:
        """Whether the run ended without results agentos can read (a crash, a runner or plugin
        that would not load, output in no known format): such a run is neither red nor green."""
        return not self.timed_out and not self.counts_known

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


_NOT_COLLECTED = re.compile(r"(?m)^(?:_* ?ERROR collecting \S+|ImportError while loading conftest .*|.*PluginValidationError.*"
                            r"|(?:ERROR|FAIL): \S+ \(unittest\.loader\._FailedTest.*)")


_PYTEST_EXITS = {2: "interrupted, e.g. by errors at collection", 3: "an internal error, e.g. a plugin that would not load",
                 4: "a usage error, e.g. an option of a plugin that is not installed", 5: "no tests collected"}


def why_no_tests_ran(run: TestRun) -> str | None:
    """Why a run did not really run the tests (nothing collected, stopped at collection or
    import, results unreadable), or None when it did. A base run must not have one."""
    if run.timed_out:
        return None
    if not run.counts_known:
        meaning = _PYTEST_EXITS.get(run.exit_code) if "pytest" in run.command else None
        return f"it exited {run.exit_code}{f' (pytest: {meaning})' if meaning else ''} without test results agentos recognises"
    if run.passed + run.failed == 0:
        return (f"it stopped at collection or import: {plural(run.errors, 'error')} before any test ran" if run.errors
                else "it collected no tests")
    if found := _NOT_COLLECTED.search(run.output):
        return f"some tests could not be collected or imported ({found.group(0).strip(' _')[:200]})"
    return None


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


def parse_junit(path: Path, root: Path) -> TestCounts | None:
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

    Jest and TAP are tried before go test, which would read their `FAIL path` and `ok 1` lines.
    """
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r\n", "\n")
    for parser in (_parse_pytest, _parse_unittest, _parse_cargo, _parse_jest, _parse_mocha, _parse_tap, _parse_go):
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


def _parse_mocha(text: str) -> TestCounts | None:
    """`  3 passing (12ms)`, `  1 failing`, `  2 pending` (mocha's spec reporter names no tests here)."""
    passing = re.search(r"(?m)^\s*(\d+) passing \(", text)
    if passing is None:
        return None
    failing = re.search(r"(?m)^\s*(\d+) failing\b", text)
    pending = re.search(r"(?m)^\s*(\d+) pending\b", text)
    return TestCounts(passed=int(passing[1]), failed=int(failing[1]) if failing else 0,
                      skipped=int(pending[1]) if pending else 0)


_TAP_LINE = re.compile(r"(?m)^(?:(not ok|ok) \d+(?: -)? ?(.*?)(?: # (SKIP|TODO)\b.*)?|# (.+?))\s*$")
_TAP_SUMMARY = re.compile(r"(tests|pass|fail|skip|todo|ok)\b\s*\d*|Subtest:.*", re.IGNORECASE)


def _parse_tap(text: str) -> TestCounts | None:
    """TAP (tape, node --test): `ok 1 name` / `not ok 2 name` lines, with a plan (`1..N`) or a
    `# tests N` summary so that stray `ok` lines are not taken for a test report.

    tape names each test in a `# name` line and its assertions by their message (`should be
    equal`, shared by many tests), so under such a header the test is the unit: it passes when
    all its assertions do. Assertions outside any header are tests of their own (node --test)."""
    if not re.search(r"(?m)^(?:1\.\.\d+|# tests \d+)\s*$", text):
        return None
    counts, outcome, group = TestCounts(), {}, None
    for status, name, directive, header in _TAP_LINE.findall(text):
        if header:
            group = None if _TAP_SUMMARY.fullmatch(header.strip()) else header.strip()
        elif directive:
            counts.skipped += 1
        else:
            key = group or name.strip()
            outcome[key] = outcome.get(key, True) and status == "ok"
    counts.passed_tests = [k for k, ok in outcome.items() if ok]
    counts.failed_tests = [k for k, ok in outcome.items() if not ok]
    counts.passed, counts.failed = len(counts.passed_tests), len(counts.failed_tests)
    return counts


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))
