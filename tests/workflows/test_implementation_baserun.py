"""The base run must really run the tests, before any model call; only the implementer's work is committed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentos.cli.orchestrate import app as orchestrate_app
from agentos.workflows.implementation.baserun import BaseRunError
from agentos.workflows.implementation.environment import TestEnvironment
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.repos import git
from tests.helpers.sample import edit_config
from tests.workflows.impl_repo import (
    BUGGY_LINE, FINISH, PYTEST, WRITE_RED_TESTS, implement, make_target, replace, report, script, worktree,
)

FIXED = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))"
BROKEN_CONFTEST = {"tests/conftest.py": "import no_such_test_helper  # a test dependency the environment lacks\n"}


def model_calls(repo) -> list[dict]:
    logs = sorted((repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines()]


def events(repo) -> list[dict]:
    logs = sorted((repo / ".agentos" / "runs").glob("orchestrate-*/events.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines()]


def test_a_base_run_that_cannot_collect_stops_before_any_model_call_and_the_same_command_continues(tmp_path):
    repo = make_target(tmp_path / "repo", files=BROKEN_CONFTEST)
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])
    args = ["--issue", "1", "--repo", str(repo), "--plain"]

    stopped = CliRunner().invoke(orchestrate_app, args)

    assert stopped.exit_code == 2, stopped.output
    assert "the tests do not really run at the base commit" in stopped.output
    assert "no_such_test_helper" in stopped.output  # the first lines of what the run printed
    assert "stages.implementation.test_command" in stopped.output and "setup_command" in stopped.output
    assert "Traceback" not in stopped.output
    assert model_calls(repo) == []
    assert not [e for e in events(repo) if e.get("stage") in ("triage", "lld", "spec")]  # before the first stage

    edit_config(repo, stages={"implementation": {"test_command": f"{PYTEST} --noconftest"}})
    resumed = CliRunner().invoke(orchestrate_app, args)

    assert resumed.exit_code == 0, resumed.output
    assert len({e["run_id"] for e in events(repo)}) == 1  # the same run, continued


@pytest.mark.parametrize("command, why", [
    (f"{PYTEST} -k no_such_test", "it collected no tests"),
    ("echo all good", "it exited 0 without test results agentos recognises"),
    (f"{PYTEST} --no-such-option", "it exited 4 (pytest: a usage error, e.g. an option of a plugin that is not installed) without test results"),
])
def test_the_stage_on_its_own_stops_at_a_base_run_that_ran_no_tests(tmp_path, command, why):
    repo = make_target(tmp_path / "repo", implementation={"test_command": command})
    script(repo, red=[WRITE_RED_TESTS, FINISH])

    with pytest.raises(BaseRunError) as stopped:
        implement(repo)

    assert stopped.value.exit_code == 2 and why in stopped.value.message
    assert model_calls(repo) == []


def test_the_suite_runs_once_at_the_base_and_the_stage_reuses_the_preflights_run(tmp_path):
    repo = make_target(tmp_path / "repo")
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = orchestrate(RunOptions(issue=1, repo=repo, plain=True))

    assert result.exit_code == 0, result.message
    runs = [e for e in events(repo) if e["kind"] == "tests_ran" and "base commit" in e.get("message", "")]
    assert len(runs) == 1
    assert any("reusing its run" in e.get("message", "") for e in events(repo) if e["kind"] == "note")
    assert report(repo)["baseline"]["passed"] == 2


@pytest.mark.skipif(not hasattr(TestEnvironment, "fallback_runner"), reason="the runner fallback is not in yet")
def test_a_base_run_that_cannot_collect_tries_the_runner_the_environment_falls_back_to(tmp_path, monkeypatch):
    repo = make_target(tmp_path / "repo", files=BROKEN_CONFTEST)
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    def fall_back(env: TestEnvironment) -> str:
        (env.root / "tests" / "conftest.py").write_text("")  # stands in for a pytest that loads the conftest
        return "pytest 9 could not collect the tests, so the tests run with pytest<9"

    monkeypatch.setattr(TestEnvironment, "fallback_runner", fall_back)
    result = implement(repo)

    assert result.exit_code == 0, result.message
    assert any("so the tests run with pytest<9" in e.get("message", "")
               for log in (repo / ".agentos" / "runs").glob("*/events.jsonl")
               for e in map(json.loads, log.read_text().splitlines()))


def test_build_output_from_set_up_and_test_runs_is_never_committed(tmp_path):
    setup = ("mkdir -p build/lib calc.egg-info && echo 'Version: 0.1.dev1' > calc.egg-info/PKG-INFO"
             " && touch build/lib/calc.py .coverage && echo rewritten > shipped.egg-info/PKG-INFO")
    repo = make_target(tmp_path / "repo", files={"shipped.egg-info/PKG-INFO": "Version: 1.0\n"},
                       implementation={"setup_command": setup})
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    changed = set(git(repo, "diff", "--name-only", "main", "agentos/issue-1").split())
    assert changed == {"calc/ops.py", "tests/test_ops.py"}
    assert (worktree(repo) / "shipped.egg-info/PKG-INFO").read_text() == "Version: 1.0\n"
    assert (worktree(repo) / "build/lib/calc.py").exists()  # kept, just never committed
