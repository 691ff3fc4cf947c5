"""The implementation stage through the real graph: confinement, measured verdicts, bad commands."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from agentos.cli.orchestrate import app as orchestrate_app
from agentos.llm.base import ToolCall
from agentos.workflows.implementation.tools import WorktreeTools
from agentos.workflows.orchestrator.run import RunOptions, orchestrate

from tests.conftest import edit_config, edit_script, git, script_replies


@pytest.fixture
def tools(tmp_path):
    root = tmp_path / "wt"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / "outside.txt").write_text("PLANTED-7f3a")
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    return WorktreeTools(root, run_tests=lambda: "1 passed")


@pytest.mark.parametrize("name,args", [
    ("write_file", {"path": "../escape.py", "content": "x"}),
    ("write_file", {"path": "/tmp/abs.py", "content": "x"}),
    ("read_file", {"path": "link.txt"}),
    ("write_file", {"path": ".git/config", "content": "x"}),
    ("write_file", {"path": ".github/workflows/x.yml", "content": "x"}),
    ("write_file", {"path": ".env", "content": "KEY=1"}),
    ("read_file", {"path": "src/../../outside.txt"}),
])
def test_paths_outside_or_protected_are_refused(tools, tmp_path, name, args):
    text, refused = tools.execute(ToolCall(id="1", name=name, arguments=args))
    assert refused and text.startswith("refused:")
    assert not (tmp_path / "escape.py").exists() and "PLANTED-7f3a" not in text


def test_allowed_edits_inside_the_worktree(tools):
    text, refused = tools.execute(ToolCall(id="1", name="replace_in_file", arguments={"path": "src/a.py", "old": "x = 1", "new": "x = 2"}))
    assert not refused and (tools.root / "src" / "a.py").read_text() == "x = 2\n"
    text, _ = tools.execute(ToolCall(id="2", name="replace_in_file", arguments={"path": "src/a.py", "old": "nope", "new": ""}))
    assert "occurs 0 times" in text
    assert "x = 2" in tools.execute(ToolCall(id="3", name="search_text", arguments={"pattern": r"x = \d"}))[0]
    assert tools.execute(ToolCall(id="4", name="teleport", arguments={}))[1] is True


def test_failing_tests_get_a_fix_round_then_block_with_the_failing_tests(sample_repo):
    steps = script_replies(sample_repo, "implementer", "impl.step")
    wrong = {"tool_calls": [{"name": "replace_in_file", "arguments": {
        "path": "textkit/slug.py", "old": '    return re.sub(r"[^a-z0-9]", "-", text.lower())',
        "new": '    return re.sub(r"[^a-z0-9]+", "-", text.lower())'}}]}
    finish = steps[-1]
    tests_only = {"tool_calls": [steps[1]["tool_calls"][0]]}
    edit_script(sample_repo, "implementer", "impl.step", [tests_only, wrong, finish, finish])
    edit_config(sample_repo, stages={"implementation": {"max_test_retries": 1}})
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4
    assert "tests still failing after 1 fix round" in result.message
    assert "test_strips_edge_dashes" in result.message
    run = result.state["test_run"]
    assert run["failed"] == 1 and run["passed"] == 3
    # The failing output went back to the model for its fix round.
    fix_prompt = [m for m in _impl_messages(sample_repo) if "The tests fail" in m]
    assert fix_prompt and "test_strips_edge_dashes" in fix_prompt[0]
    assert not (sample_repo / ".agentos" / "pulls").exists()


def _impl_messages(repo):
    import json

    [log] = (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [m.get("content", "") for c in calls if c["purpose"] == "impl.step" for m in c["messages"]]


def test_an_escape_attempt_is_refused_and_the_loop_goes_on(sample_repo):
    steps = script_replies(sample_repo, "implementer", "impl.step")
    escape = {"tool_calls": [{"name": "write_file", "arguments": {"path": "../../pwned.txt", "content": "x"}}]}
    edit_script(sample_repo, "implementer", "impl.step", [escape, *steps])
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 0, result.message
    assert not (sample_repo.parent / "pwned.txt").exists()
    assert not (sample_repo / ".agentos" / "pwned.txt").exists()


def test_a_test_command_that_cannot_start_exits_2_naming_the_key(sample_repo):
    edit_config(sample_repo, stages={"implementation": {"test_command": "no-such-test-runner --all"}})
    result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(sample_repo), "--plain"])
    assert result.exit_code == 2, result.output
    assert "test_command" in result.output
    # Nothing lost: with the command fixed, the same run resumes at the implementation stage.
    edit_config(sample_repo, stages={"implementation": {"test_command": None}})
    again = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert again.exit_code == 0, again.message
    assert git(sample_repo, "log", "--format=%s", "agentos/issue-1").count("docs(lld)") == 1


def test_a_hanging_test_command_is_killed_and_blocks(sample_repo):
    edit_config(sample_repo, stages={"implementation": {"test_command": "sleep 60", "test_timeout_s": 1,
                                                         "max_test_retries": 0}})
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4
    assert result.state["test_run"]["timed_out"] is True
