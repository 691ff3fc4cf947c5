"""Agent CLIs as implementers, faked by executable scripts on PATH: the stage runs them in the
worktree, undoes what they may not change, and judges their work by running the tests itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli.orchestrate import app as orchestrate_app
from tests.helpers.repos import git
from tests.workflows.impl_repo import (
    BUGGY_LINE, NEW_TESTS, OPS, RED_TESTS, implement, make_target, report, run_folder, worktree,
)

UNSANDBOXED = "off"
"""These tests watch what agentos checks after a CLI ran (git's files, paths, the verdict); the
fake writes its log outside the worktree and meddles with .git, which the sandbox would refuse
(tests/workflows/test_sandbox.py runs a fake CLI inside it)."""
FIXED_OPS = OPS.replace(BUGGY_LINE, "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))")
WRONG_OPS = OPS.replace(BUGGY_LINE, "    return min(x, hi)")

FAKE = '''#!{python}
"""A stand-in for an agent CLI: edits files in its working directory like the real one would."""
import json, os, subprocess, sys, time
from pathlib import Path

task = sys.stdin.read() if not any(a == "--message-file" for a in sys.argv) else \\
    Path(sys.argv[sys.argv.index("--message-file") + 1]).read_text()
log = Path(os.environ["FAKE_AGENT_LOG"])
with log.open("a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "task": task}}) + "\\n")
files = json.loads(os.environ["FAKE_AGENT_FILES"])
red = "Phase 1 of 2" in task
if not red and os.environ.get("FAKE_AGENT_HANG"):
    time.sleep(60)
for rel, text in (files["red"] if red else files["green"]).items():
    Path(rel).parent.mkdir(parents=True, exist_ok=True)
    Path(rel).write_text(text)
if os.environ.get("FAKE_AGENT_MEDDLE"):
    common = Path(subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                 capture_output=True, text=True).stdout.strip())
    (common / "hooks" / "pre-commit").write_text("#!/bin/sh\\ntouch /tmp/agentos-hook-ran\\n")
    subprocess.run(["git", "config", "alias.st", "!touch /tmp/agentos-alias-ran"])
    Path(".aider.tags.cache.v4").mkdir(exist_ok=True)
    Path(".aider.tags.cache.v4/cache.db").write_text("x")
print("All tests pass. The implementation is complete and correct.")
'''


def install_fake(tmp_path: Path, monkeypatch, binary: str, red: dict, green: dict, **env: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / binary
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / f"{binary}-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AGENT_LOG", str(log))
    monkeypatch.setenv("FAKE_AGENT_FILES", json.dumps({"red": red, "green": green}))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_an_agent_cli_works_test_first_and_what_it_may_not_change_is_undone(tmp_path, monkeypatch):
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={"implementer": "claude-code:sonnet"})
    red = {"tests/test_ops.py": RED_TESTS, "calc/ops.py": FIXED_OPS}  # code too early: undone
    green = {"calc/ops.py": FIXED_OPS, ".github/workflows/evil.yml": "on: push\n", ".env": "TOKEN=x\n"}
    log = install_fake(tmp_path, monkeypatch, "claude", red, green, FAKE_AGENT_MEDDLE="1")
    config_before = (repo / ".git" / "config").read_text()

    result = implement(repo)

    assert result.exit_code == 0, result.message
    first, second = calls(log)
    assert first["argv"][:6] == ["-p", "--model", "sonnet", "--permission-mode", "acceptEdits", "--output-format"]
    assert Path(first["cwd"]) == worktree(repo).resolve()
    assert "Phase 1 of 2" in first["task"] and "Test mapping" in first["task"]
    assert "fail on the current code" in second["task"] and all(t in second["task"] for t in NEW_TESTS)
    # The tests-first commit holds the tests only: the early code change was put back.
    assert BUGGY_LINE in git(repo, "show", "agentos/issue-1~1:calc/ops.py")
    assert "def test_clamp_high" in git(repo, "show", "agentos/issue-1~1:tests/test_ops.py")
    on_branch = git(repo, "ls-tree", "-r", "--name-only", "agentos/issue-1").split()
    assert ".github/workflows/evil.yml" not in on_branch and ".env" not in on_branch
    assert not any(p.startswith(".aider") for p in on_branch)
    # Its changes to git's own files were undone before anything ran git again.
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert (repo / ".git" / "config").read_text() == config_before
    runs = [json.loads(line) for line in (run_folder(repo) / "agent-runs.jsonl").read_text().splitlines()]
    assert set(runs[0]["refused"]) == {"calc/ops.py"}
    assert set(runs[1]["refused"]) == {".github/workflows/evil.yml", ".env"}
    assert "All tests pass" in (run_folder(repo) / "red-0-output.log").read_text()
    assert report(repo)["required"] == {t: "passed" for t in NEW_TESTS}


def test_an_agent_saying_it_is_done_is_not_the_verdict(tmp_path, monkeypatch):
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={"implementer": "codex:gpt-5", "max_test_retries": 1})
    log = install_fake(tmp_path, monkeypatch, "codex", {"tests/test_ops.py": RED_TESTS}, {"calc/ops.py": WRONG_OPS})

    result = implement(repo)

    assert result.exit_code == 4
    assert "tests still failing after 1 fix round" in result.message
    assert "test_clamp_low" in result.message  # a regression
    *_, fix_round = calls(log)
    assert fix_round["argv"] == ["exec", "--model", "gpt-5", "--sandbox", "workspace-write", "-"]
    assert "The tests do not pass yet" in fix_round["task"] and "regression" in fix_round["task"]


@pytest.mark.slow  # waits out a timeout
def test_a_hanging_agent_cli_is_killed_at_its_timeout(tmp_path, monkeypatch):
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={
        "implementer": "gemini-cli:pro", "external_timeout_s": 2, "max_test_retries": 0})
    install_fake(tmp_path, monkeypatch, "gemini", {"tests/test_ops.py": RED_TESTS}, {}, FAKE_AGENT_HANG="1")

    result = implement(repo)

    assert result.exit_code == 4
    runs = [json.loads(line) for line in (run_folder(repo) / "agent-runs.jsonl").read_text().splitlines()]
    assert runs[-1]["timed_out"] is True and runs[-1]["duration_s"] < 30
    assert any("timed out" in n for n in report(repo)["notes"])


def test_aider_gets_its_files_and_its_cache_is_not_committed(tmp_path, monkeypatch):
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={"implementer": "aider:sonnet"})
    log = install_fake(tmp_path, monkeypatch, "aider", {"tests/test_ops.py": RED_TESTS}, {"calc/ops.py": FIXED_OPS},
                       FAKE_AGENT_MEDDLE="1")

    result = implement(repo)

    assert result.exit_code == 0, result.message
    first, second = calls(log)
    assert "--no-auto-commits" in first["argv"] and "--yes-always" in first["argv"]
    assert first["argv"][-1:] == ["tests/test_ops.py"]  # the red phase hands it the test files only
    assert second["argv"][-2:] == ["tests/test_ops.py", "calc/ops.py"]
    assert not (worktree(repo) / ".aider.tags.cache.v4").exists()


@pytest.mark.parametrize("implementer, needle", [
    ("codex:gpt-5", "`codex` (Codex CLI) is not on PATH"),
    ("codex-cli:gpt-5", "`codex` (Codex CLI) is not on PATH"),  # the old name: the same CLI, as an agent
    ("claude-cli:sonnet", "`claude` (Claude Code) is not on PATH"),
    ("claude-code:", "is not in cli:model form"),
])
def test_an_agent_cli_that_cannot_run_is_reported_before_the_run(tmp_path, monkeypatch, implementer, needle):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin")
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={"implementer": implementer})

    plan = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(repo), "--dry-run"])

    assert plan.exit_code == 2 and needle in plan.output and "this plan cannot run" in plan.output


def test_a_missing_agent_cli_exits_2_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin")
    repo = make_target(tmp_path / "repo", sandbox=UNSANDBOXED, implementation={"implementer": "codex:gpt-5"})

    result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(repo), "--plain"])

    assert result.exit_code == 2, result.output
    assert "`codex` (Codex CLI) is not on PATH" in result.output
    assert "npm install -g @openai/codex" in result.output
    assert not list((repo / ".agentos" / "runs").glob("*/run.json"))  # refused before a run was recorded
