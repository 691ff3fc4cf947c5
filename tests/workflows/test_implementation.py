"""The implementation stage through the real graph: confinement, measured verdicts, bad commands."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.cli.orchestrate import app as orchestrate_app
from agentos.llm.base import ToolCall
from agentos.workflows.implementation.tools import WorktreeTools
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.repos import git
from tests.helpers.sample import edit_config, edit_script, script_replies
from tests.workflows.impl_repo import (
    BUGGY_LINE, FINISH, PYTEST, WRITE_RED_TESTS, call, implement, make_target, prompts_sent, replace, reply,
    report, run_folder, script, tool_calls, worktree,
)

FIXED = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))"


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


def test_secrets_and_links_out_are_neither_read_nor_searched(tools):
    (tools.root / "deploy.pem").write_text("PLANTED-7f3a\n")
    (tools.root / "config").mkdir()
    (tools.root / "config" / ".env").write_text("TOKEN=PLANTED-7f3a\n")
    for path in ("deploy.pem", "config/.env"):
        text, refused = tools.execute(ToolCall(id="1", name="read_file", arguments={"path": path}))
        assert refused and "secret" in text
    found, _ = tools.execute(ToolCall(id="2", name="search_text", arguments={"pattern": "PLANTED"}))
    assert found == "no matches"


def test_a_write_guard_narrows_what_may_change(tmp_path):
    (tmp_path / "wt").mkdir()
    only_tests = WorktreeTools(tmp_path / "wt", lambda: "", write_guard=lambda rel: None if rel.startswith("tests/") else "tests only")
    assert only_tests.execute(ToolCall(id="1", name="write_file", arguments={"path": "tests/t.py", "content": ""}))[1] is False
    text, refused = only_tests.execute(ToolCall(id="2", name="write_file", arguments={"path": "src/a.py", "content": ""}))
    assert refused and text == "refused: tests only"


def test_allowed_edits_inside_the_worktree(tools):
    text, refused = tools.execute(ToolCall(id="1", name="replace_in_file", arguments={"path": "src/a.py", "old": "x = 1", "new": "x = 2"}))
    assert not refused and (tools.root / "src" / "a.py").read_text() == "x = 2\n"
    text, _ = tools.execute(ToolCall(id="2", name="replace_in_file", arguments={"path": "src/a.py", "old": "nope", "new": ""}))
    assert "occurs 0 times" in text
    assert "x = 2" in tools.execute(ToolCall(id="3", name="search_text", arguments={"pattern": r"x = \d"}))[0]
    assert tools.execute(ToolCall(id="4", name="teleport", arguments={}))[1] is True


def test_failing_tests_get_a_fix_round_then_block_with_the_failing_tests(sample_repo):
    green = script_replies(sample_repo, "implementer", "impl.green")
    wrong = {"tool_calls": [{"name": "replace_in_file", "arguments": {
        "path": "textkit/slug.py", "old": '    return re.sub(r"[^a-z0-9]", "-", text.lower())',
        "new": '    return re.sub(r"[^a-z0-9]+", "-", text.lower())'}}]}
    finish = green[-1]
    edit_script(sample_repo, "implementer", "impl.green", [wrong, finish, finish])
    edit_config(sample_repo, stages={"implementation": {"max_test_retries": 1}})
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4
    assert "tests still failing after 1 fix round" in result.message
    assert "test_strips_edge_dashes" in result.message
    run = result.state["test_run"]
    assert run["failed"] == 1 and run["passed"] == 3
    # The failing output went back to the model for its fix round.
    fix_prompt = [m for m in _impl_messages(sample_repo) if "The tests do not pass yet" in m]
    assert fix_prompt and "test_strips_edge_dashes" in fix_prompt[0]
    assert not (sample_repo / ".agentos" / "pulls").exists()


def _impl_messages(repo):
    import json

    [log] = (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [m.get("content", "") for c in calls if c["purpose"].startswith("impl.") for m in c["messages"]]


def test_an_escape_attempt_is_refused_and_the_loop_goes_on(sample_repo):
    red = script_replies(sample_repo, "implementer", "impl.red")
    escape = {"tool_calls": [{"name": "write_file", "arguments": {"path": "../../pwned.txt", "content": "x"}}]}
    edit_script(sample_repo, "implementer", "impl.red", [escape, *red])
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 0, result.message
    assert not (sample_repo.parent / "pwned.txt").exists()
    assert not (sample_repo / ".agentos" / "pwned.txt").exists()


@pytest.mark.slow  # seconds of whole-pipeline work
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


@pytest.mark.slow  # waits out a timeout
def test_a_hanging_test_command_is_killed_and_blocks(sample_repo):
    edit_config(sample_repo, stages={"implementation": {"test_command": "sleep 60", "test_timeout_s": 1,
                                                         "max_test_retries": 0}})
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4
    assert result.state["test_run"]["timed_out"] is True


def test_each_escape_attempt_through_the_real_stage_is_refused_logged_and_the_loop_goes_on(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("PLANTED-7f3a\n")
    repo = make_target(tmp_path / "repo")
    os.symlink(outside, repo / "docs" / "shared")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "link to shared docs")
    attempts = [
        call("write_file", path="../../escape.py", content="x"),
        call("write_file", path=str(tmp_path / "abs.py"), content="x"),
        call("write_file", path="docs/shared/secret.txt", content="overwritten"),
        call("read_file", path="docs/shared/secret.txt"),
        call("write_file", path=".git/config", content="[core]\n"),
        call("replace_in_file", path=".github/workflows/x.yml", old="a", new="b"),
        call("write_file", path=".github/workflows/x.yml", content="on: push\n"),
        call("write_file", path=".venv/lib/sitecustomize.py", content="x"),
    ]
    script(repo, red=[reply(*attempts), WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    logged = tool_calls(repo)[:len(attempts)]
    assert all(c["refused"] and c["result"].startswith("refused:") for c in logged), logged
    assert "PLANTED" not in json.dumps(logged)
    assert (outside / "secret.txt").read_text() == "PLANTED-7f3a\n"
    assert not (tmp_path / "abs.py").exists() and not (tmp_path / "escape.py").exists()
    wt = worktree(repo)
    assert not (wt / ".github").exists() and not (wt / ".venv").exists()
    assert "[core]\n" != (repo / ".git" / "config").read_text()
    notes = [json.loads(line)["message"] for line in
             next((repo / ".agentos" / "runs").glob("*/events.jsonl")).read_text().splitlines()
             if json.loads(line)["kind"] == "note"]
    assert sum(n.startswith("refused ") for n in notes) == len(attempts)


def test_a_protected_file_the_lld_lists_may_be_changed(tmp_path):
    repo = make_target(tmp_path / "repo", lld_files=["calc/ops.py", "tests/test_ops.py", ".github/workflows/ci.yml"])
    ci = call("write_file", path=".github/workflows/ci.yml", content="on: push\n")
    other = call("write_file", path=".github/workflows/deploy.yml", content="on: push\n")
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), reply(ci, other), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    on_branch = git(repo, "ls-tree", "-r", "--name-only", "agentos/issue-1").split()
    assert ".github/workflows/ci.yml" in on_branch and ".github/workflows/deploy.yml" not in on_branch


@pytest.mark.slow  # waits out a timeout
def test_a_hanging_test_command_is_killed_and_the_run_goes_on_to_a_fix_round_then_blocks(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={
        "test_command": "sleep 60", "test_timeout_s": 1, "max_test_retries": 1})
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH, FINISH])

    result = implement(repo)

    assert result.exit_code == 4
    assert result.state["test_run"]["timed_out"] is True
    assert "timed out after 1s" in result.message
    assert [r["label"] for r in report(repo)["rounds"]] == ["tests first", "implementation", "fix round 1"]
    [fix] = [p for p in prompts_sent(repo, "impl.green") if "do not pass yet" in p]
    assert "the test run timed out after 1s" in fix


def test_a_test_command_printing_a_flood_is_truncated_and_the_stage_goes_on(tmp_path):
    flood = f"head -c 60000000 /dev/zero | tr '\\0' x; {PYTEST}"
    repo = make_target(tmp_path / "repo", implementation={"test_command": flood})
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    saved = json.loads((run_folder(repo) / "tests-implementation.json").read_text())
    assert len(saved["output"]) <= 20_000 and "characters of output cut" in saved["output"]
    assert saved["passed"] == 4


def test_no_detectable_test_command_exits_2_naming_the_config_key(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={"test_command": None})
    for test in (repo / "tests").iterdir():
        test.unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "no tests")
    script(repo, red=[FINISH])

    result = CliRunner().invoke(agentos_app, ["implement", "--issue", "1", "--repo", str(repo), "--plain"])

    assert result.exit_code == 2, result.output
    assert "no test command could be detected" in result.output
    assert "orchestrator.stages.implementation.test_command" in result.output
    assert "Traceback" not in result.output


def test_a_same_named_branch_agentos_did_not_make_is_refused_with_what_to_do(sample_repo):
    git(sample_repo, "branch", "agentos/issue-1")
    before = git(sample_repo, "rev-parse", "agentos/issue-1")

    result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(sample_repo), "--plain"])

    assert result.exit_code == 2, result.output
    assert "was not created by agentos" in result.output
    assert "git branch -m agentos/issue-1 agentos/issue-1-old" in result.output
    assert git(sample_repo, "rev-parse", "agentos/issue-1") == before


@pytest.mark.parametrize("limit, note", [
    ({"max_steps": 1}, "red round ended: the 1-step limit"),
    ({"max_cost_per_round_usd": 0}, "red round ended: the $0.00 cost limit"),
])
def test_a_round_that_reaches_its_limit_ends_and_the_tests_decide(tmp_path, limit, note):
    repo = make_target(tmp_path / "repo", implementation=limit)
    look = reply(call("read_file", path="calc/ops.py"))
    script(repo, red=[look, WRITE_RED_TESTS], green=[replace(BUGGY_LINE, FIXED)])

    result = implement(repo)

    assert result.exit_code == 0, result.message
    events = next((repo / ".agentos" / "runs").glob("*/events.jsonl")).read_text()
    assert note in events
    [retry] = [p for p in prompts_sent(repo, "impl.red") if "not ready yet" in p]
    assert "was not found in the test run" in retry
