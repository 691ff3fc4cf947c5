"""Set-up before a run: what is refused (exit 2, named) before any model is called."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from agentos.cli.main import app
from agentos.cli.orchestrate import app as orchestrate_app

from tests.helpers.repos import bare_repo, git


def test_a_base_branch_that_does_not_exist_is_refused_before_any_model_call(sample_repo):
    git(sample_repo, "branch", "release")
    for extra in (["--dry-run"], []):
        result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(sample_repo), "--plain",
                                                      "--base-branch", "nope", *extra])
        assert result.exit_code == 2, result.output
        assert "base branch 'nope' does not exist" in result.output
        assert "existing branches: main, release" in result.output and "pass --base-branch" in result.output
        assert ("Plan for issue #1" in result.output) == bool(extra)  # a dry run still shows the whole plan
    assert not list((sample_repo / ".agentos").glob("runs/*/scripted-calls.jsonl"))  # no model was called


def test_a_bare_repository_is_named_as_bare(tmp_path):
    bare = bare_repo(tmp_path / "origin.git")
    result = CliRunner().invoke(app, ["status", "1", "--repo", str(bare)])
    assert result.exit_code == 2 and "is a bare repository (it has no working tree)" in result.output


def test_git_not_installed_exits_2(sample_repo, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    for command in (["agentos.cli.main", "status", "1"], ["agentos.cli.orchestrate", "--issue", "1", "--plain"]):
        proc = subprocess.run([sys.executable, "-m", *command, "--repo", str(sample_repo)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "error: git is not installed (no `git` on PATH)" in proc.stderr and "Traceback" not in proc.stderr
