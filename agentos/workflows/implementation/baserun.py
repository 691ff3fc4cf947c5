"""The base run: the whole suite at the base commit, which must really run the tests.

It runs before anything costs a model call: in the orchestrator's preflight, before triage,
and in the stage's baseline when the stage runs on its own. A run that collected nothing,
stopped at collection or import, or printed no results agentos can read says nothing about
the tests, and every verdict after it would be a guess: it stops the run (exit 2), naming
what failed and what to set; the same command continues once that is fixed. When pytest
could not collect, the test environment may offer another pytest first (see
`TestEnvironment.fallback_runner`). A good run is kept beside the worktree, keyed by the
base commit, the test command and the environment, so the stage's baseline reuses the
preflight's run instead of running the suite twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from agentos.errors import TestCommandError
from agentos.redact import redact
from agentos.repo.testcmd import CONFIG_KEY
from agentos.repo.testreport import TestRun, why_no_tests_ran
from agentos.repo.worktrees import checked_out_at
from agentos.workflows.implementation.environment import SETUP_KEY, TestEnvironment, collection_failed
from agentos.workflows.implementation.worktree import StageWorktree

SHOWN_LINES = 15


class BaseRunError(TestCommandError):
    """The tests do not really run at the base commit (exit 2; the same command continues once fixed)."""


def base_run(wt: StageWorktree, fork: str, template: str) -> TestRun:
    """The suite at the base commit `fork`, in a test environment set up for the branch; the
    kept run when this commit, command and environment already ran it. BaseRunError when the
    run does not really run the tests."""
    env = wt.environment(template)
    if done := env.ensure():
        wt.note(f"test environment: {done.what} ({done.duration_s:.1f}s)")
    key = _key(wt, env, fork, template)
    if (kept := _kept(wt, key)) is not None:
        wt.note(f"base commit: reusing its run for this command and environment ({kept.summary()})")
        return kept
    run = _run_at(wt, fork, template)
    # A runner agentos added that cannot load the project's conftest or plugins: the previous
    # major, then the one before (fallback_runner says when there is nothing left to try).
    while collection_failed(run) and (said := env.fallback_runner()):
        wt.note(said)
        key, run = _key(wt, env, fork, template), _run_at(wt, fork, template)
    wt.record_run(run, "base commit", verdict="BASE")
    if why := why_no_tests_ran(run):
        raise _not_run(run, fork, why)
    _keep(wt, key, run)
    return run


def _run_at(wt: StageWorktree, fork: str, template: str) -> TestRun:
    """The suite on the base commit's code: the branch as it is when only documents moved."""
    if not code_moved(wt, fork):
        return wt.run_suite(template, setup=False)
    with checked_out_at(wt.git, fork, wt.workspace.branch):
        return wt.run_suite(template, setup=False)


def code_moved(wt: StageWorktree, fork: str) -> bool:
    """Whether the branch changed more than the design documents since the base commit."""
    docs_dir = wt.services.config.docs_dir + "/"
    return any(not p.startswith(docs_dir) for p in wt.git.changed_files(fork, "HEAD"))


def _not_run(run: TestRun, fork: str, why: str) -> BaseRunError:
    lines = [line for line in run.output.splitlines() if line.strip()][:SHOWN_LINES]
    shown = redact("\n".join(f"    {line[:300]}" for line in lines)) or "    (no output)"
    return BaseRunError(
        f"the tests do not really run at the base commit {fork[:12]}: {why}.\n  `{run.command}` printed:\n{shown}",
        f"make the suite run there before any model is called: set {CONFIG_KEY} to the command that runs "
        f"the tests, or {SETUP_KEY} to one that installs what they need; then run the same command again "
        "to continue",
    )


# --- the kept run ----------------------------------------------------------------------------


def _key(wt: StageWorktree, env: TestEnvironment, fork: str, template: str) -> str:
    """The base commit, the command as it runs, and the environment it runs in."""
    setup = env.marker.read_text(encoding="utf-8") if env.marker.is_file() else ""
    parts = [fork, wt.test_command(template), sorted(env.variables().items()), setup]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _kept_path(wt: StageWorktree):
    return wt.root.parent / f"{wt.root.name}.base-run.json"


def _kept(wt: StageWorktree, key: str) -> TestRun | None:
    try:
        kept = json.loads(_kept_path(wt).read_text(encoding="utf-8"))
        return TestRun(**kept["run"]) if kept.get("key") == key else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _keep(wt: StageWorktree, key: str, run: TestRun) -> None:
    _kept_path(wt).write_text(json.dumps({"key": key, "run": dataclasses.asdict(run)}) + "\n", encoding="utf-8")
