"""Judging test runs by test name: red (the new tests fail before any code change), green
(the required tests pass and nothing regressed against the base commit), and the score that
decides which state of the worktree is the best so far.

Runners name tests differently (`tests/test_x.py::T::test_a`, `tests.test_x.T.test_a`,
`TestA`, `tests::a`), so names are compared as sequences of segments: one matches another
when either ends with the other. A failure reported for a module (`tests.test_x`, a
collection or import error) counts against every test inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from agentos.repo.testreport import TestRun
from agentos.progress.view import plural

_SOURCE_SUFFIX = re.compile(r"\.(py|go|rs|js|ts|jsx|tsx|mjs|cjs|rb)(?=::|$)")


def segments(name: str) -> tuple[str, ...]:
    """`tests/test_x.py::T::test_a[1]` → ('tests', 'test_x', 'T', 'test_a')."""
    name = re.sub(r"\[.*\]$", "", name.strip())
    name = _SOURCE_SUFFIX.sub("", name)
    return tuple(s for s in re.split(r"::|[./\\]", name) if s)


def same_test(a: str, b: str) -> bool:
    sa, sb = segments(a), segments(b)
    n = min(len(sa), len(sb))
    return n > 0 and sa[-n:] == sb[-n:]


def contains(test: str, module: str) -> bool:
    """Whether `module` (a reported failing id) is a module or class that contains `test`."""
    st, sm = segments(test), segments(module)
    if "_FailedTest" in sm:  # unittest's stand-in for a module that failed to import
        return sm[-1] in st[:-1]
    return 0 < len(sm) < len(st) and st[:len(sm)] == sm


def status(test: str, run: TestRun) -> str:
    """passed | failed | missing | unknown (the runner names no passing tests, or its results
    could not be read)."""
    if run.timed_out or any(same_test(test, f) or contains(test, f) for f in run.failed_tests):
        return "failed"
    if any(same_test(test, p) for p in run.passed_tests):
        return "passed"
    if run.names_complete:
        return "missing"
    return "passed" if run.ok and run.counts_known else "unknown"  # a clean run passed everything it ran


def _ran(test: str, run: TestRun) -> bool:
    return any(same_test(test, t) for t in [*run.passed_tests, *run.failed_tests])


@dataclass
class Judgement:
    """What a test run means for the stage."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    """Why it is not ok, each phrased as something to fix."""
    required: dict[str, str] = field(default_factory=dict)
    """Required test → its status in this run."""
    regressions: list[str] = field(default_factory=list)
    preexisting: list[str] = field(default_factory=list)
    """Failing here and already failing at the base commit: reported, not blamed."""
    new_tests: list[str] = field(default_factory=list)
    """Red: the new tests seen failing (they become required for green)."""
    not_testing: list[str] = field(default_factory=list)
    """Red: new tests outside the mapping that already pass, so they do not test the change."""
    score: tuple[int, int, int] = (0, 0, 0)
    """(no regressions, required tests passing, tests passing): higher is better."""


def judge_red(run: TestRun, base: TestRun, required: list[str], existed: Callable[[str], bool]) -> Judgement:
    """The tests written first must fail on the unchanged code, in a run whose results are known."""
    if run.results_unknown:
        return Judgement(ok=False, problems=[_unreadable(run, "cannot show the new tests failing")])
    new_required = [t for t in required if not existed(t)]
    found = {t: status(t, run) for t in new_required}
    new_failing = [f for f in run.failed_tests if not any(same_test(f, b) for b in base.failed_tests)]
    extra = [p for p in run.passed_tests if not _ran(p, base) and not any(same_test(p, t) for t in required)]
    problems = [f"{t} passes before any code change, so it does not test the change: make it fail "
                "on the current code, so that it passes only once the spec is implemented"
                for t, s in found.items() if s == "passed"]
    problems += [f"{t} (from the spec's test mapping) was not found in the test run: write it, "
                 "under exactly that name" for t, s in found.items() if s == "missing"]
    if not new_required:
        problems += _red_without_mapping(run, new_failing)
    return Judgement(ok=not problems, problems=problems, required=found,
                     new_tests=new_required or new_failing, not_testing=extra)


def _red_without_mapping(run: TestRun, new_failing: list[str]) -> list[str]:
    """Red when the spec names no new test: some new test must be seen failing."""
    if run.timed_out or new_failing:
        return []
    if run.failed_tests or run.names_complete:
        return ["no new test fails on the current code: write the tests from the spec's test "
                "mapping first, so that they fail until the change is made"]
    if run.exit_code == 0:
        return ["the test suite still passes with the new tests, so they do not test the change"]
    return []


def _unreadable(run: TestRun, so: str) -> str:
    return (f"the test run printed no results agentos recognises (exit {run.exit_code}), so it {so}: "
            "if a test file does not even load, fix it; if the runner cannot be read, set "
            "stages.implementation.test_command to one agentos reads (pytest, unittest -v, go test -v, "
            "cargo test, jest, mocha, TAP)")


def judge_green(run: TestRun, base: TestRun, required: list[str]) -> Judgement:
    """The required tests pass, and nothing that passed at the base commit fails now."""
    if run.timed_out:
        return Judgement(ok=False, problems=[f"the test run timed out after {run.timeout_s or run.duration_s:.0f}s"])
    found = {t: status(t, run) for t in required}
    regressions, new_failures = _regressions(run, base, required)
    base_failing = [] if base.timed_out else base.failed_tests
    preexisting = [f for f in run.failed_tests if any(same_test(f, b) for b in base_failing)]
    problems = [f"{t} {s}" for t, s in found.items() if s in ("failed", "missing")]
    problems += [f"regression: {r}" for r in regressions]
    problems += [f"new test failing: {f}" for f in new_failures]
    problems += _unverifiable(run, found)
    passing = sum(s == "passed" for s in found.values())
    score = (int(not regressions), passing, run.passed)
    return Judgement(ok=not problems, problems=problems, required=found, regressions=regressions,
                     preexisting=preexisting, score=score)


def _regressions(run: TestRun, base: TestRun, required: list[str]) -> tuple[list[str], list[str]]:
    """(regressions, other new failures). A regression is a test that passed at the base commit
    and now fails or no longer runs; when the base run names only its failures, any newly
    failing test that is not required counts as one."""
    base_failing = [] if base.timed_out else base.failed_tests
    newly = [f for f in run.failed_tests if not any(same_test(f, b) for b in base_failing)]
    if base.names_complete:
        found = [f for f in newly if _ran(f, base)]
    else:
        found = [f for f in newly if not any(same_test(f, t) or contains(t, f) for t in required)]
    others = [f for f in newly if f not in found and not any(same_test(f, t) for t in required)]
    unnamed = run.failed + run.errors - len(run.failed_tests)
    base_unnamed = 0 if base.timed_out else base.failed + base.errors - len(base.failed_tests)
    if unnamed > base_unnamed:
        found.append(f"{plural(unnamed - base_unnamed, 'more failing test', 'more failing tests')} than at the base commit (unnamed)")
    if base.names_complete and run.names_complete:
        found += [f"{p} (passed at the base commit, no longer runs)" for p in base.passed_tests if not _ran(p, run)]
    return found, others


def _unverifiable(run: TestRun, found: dict[str, str]) -> list[str]:
    """What cannot be confirmed: a run whose results are unknown, or required tests the runner
    does not name."""
    if run.results_unknown:
        return [_unreadable(run, "cannot show the tests passing")]
    return [f"cannot confirm {t} passed: the runner does not name passing tests"
            for t, s in found.items() if s == "unknown"]
