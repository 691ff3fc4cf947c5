"""The target's own test environment in its worktree: a .venv with what the project declares."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.config import ImplementationStageConfig
from agentos.errors import TestCommandError
from agentos.workflows.implementation.environment import TestEnvironment
from agentos.workflows.implementation.installplan import plan_install
from tests.helpers.repos import git, make_repo
from tests.helpers.sample import edit_config
from tests.workflows.impl_repo import FINISH, make_target, script
from tests.workflows.pyprojects import make_wheel

UNITTEST = "{python} -m unittest discover -v -s tests -t ."


def test_a_venv_is_made_in_the_worktree_with_the_declared_dependencies(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels)
    root = make_repo(tmp_path / "wt", {"requirements.txt": f"{wheel}\n", "tests/test_x.py": "import tinydep\n"})
    env = TestEnvironment(root, ImplementationStageConfig(), UNITTEST)

    done = env.ensure()

    assert done is not None and "with uv (-r requirements.txt)" in done.what
    python = root / ".venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import sys, tinydep; print(tinydep.VALUE, sys.prefix)"],
                           capture_output=True, text=True)
    assert probe.stdout.split() == ["42", str(root / ".venv")]
    assert git(root, "status", "--porcelain") == ""  # the venv is never seen as a change
    assert env.ensure() is None  # up to date: nothing runs again
    (root / "requirements.txt").write_text(f"{wheel}\n# pinned\n")
    assert env.ensure() is not None  # the dependency files changed: set up again
    assert env.variables()["VIRTUAL_ENV"] == str(root / ".venv")


def test_a_project_that_declares_nothing_gets_a_bare_venv_quickly(tmp_path):
    root = make_repo(tmp_path / "wt", {"pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n", "tests/test_x.py": ""})

    done = TestEnvironment(root, ImplementationStageConfig(), UNITTEST).ensure()

    assert done is not None and "no dependencies declared" in done.what
    assert (root / ".venv" / "bin" / "python").exists() and not (root / ".venv" / "bin" / "pip").exists()


@pytest.mark.parametrize("files, runs_pytest, expected", [
    ({"pyproject.toml": "[build-system]\nrequires=['setuptools']\n[project]\nname='x'\n"
                        "[project.optional-dependencies]\ntest=['pytest>=8']\ndocs=['sphinx']\n"}, True, ["-e", ".[test]"]),
    ({"pyproject.toml": "[project]\nname='x'\ndependencies=['attrs']\n[project.optional-dependencies]\ndev=['hypothesis']\n"},
     True, ["attrs", "hypothesis", "pytest"]),
    ({"pyproject.toml": "[project]\nname='x'\n[dependency-groups]\ntest=['pytest', {include-group='lint'}]\n"},
     True, ["pytest"]),
    ({"requirements.txt": "requests\n", "requirements/test.txt": "pytest\n"}, True,
     ["-r", "requirements.txt", "-r", "requirements/test.txt"]),
    ({"setup.py": "from setuptools import setup\nsetup()\n"}, False, ["-e", "."]),
    ({"pyproject.toml": "[project]\nname='x'\n"}, False, []),
])
def test_install_arguments_follow_what_the_project_declares(tmp_path, files, runs_pytest, expected):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert plan_install(tmp_path, runs_pytest).args == expected


def test_invalid_pyproject_is_a_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(TestCommandError) as info:
        plan_install(tmp_path, False)
    assert "not valid TOML" in info.value.message and "setup_command" in info.value.hint


def test_a_failing_setup_command_exits_2_naming_the_key(tmp_path):
    repo = make_target(tmp_path / "repo", implementation={"setup_command": "echo cannot reach the index >&2; exit 7"})
    script(repo, red=[FINISH])

    result = CliRunner().invoke(agentos_app, ["implement", "--issue", "1", "--repo", str(repo), "--plain"])

    assert result.exit_code == 2, result.output
    assert "the setup command failed (exit 7)" in result.output and "cannot reach the index" in result.output
    assert "orchestrator.stages.implementation.setup_command" in result.output


def test_the_demo_tests_run_in_the_worktrees_own_venv_which_is_never_committed(sample_repo):
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    edit_config(sample_repo, gates={"before_pr": False})
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))

    assert result.exit_code == 0, result.message
    venv_python = sample_repo / ".agentos" / "worktrees" / "1" / ".venv" / "bin" / "python"
    assert result.state["test_run"]["command"].startswith(str(venv_python))
    assert not [p for p in git(sample_repo, "ls-tree", "-r", "--name-only", "agentos/issue-1").split() if ".venv" in p]
