"""Test venvs made with uv (pip as the fallback), copied ready-made into the next worktree, build
output kept out of git, and the pytest fallback after a run that could not collect."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentos.config import ImplementationStageConfig
from agentos.repo.git import Checkout
from agentos.repo.testcmd import expand_command, run_tests
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation.environment import TestEnvironment, collection_failed
from agentos.workflows.implementation import venvs
from agentos.workflows.implementation.venvs import cache_root
from tests.helpers.repos import git, make_repo
from tests.workflows.pyprojects import make_wheel, project_files

UNITTEST = "{python} -m unittest discover -v -s tests -t ."
PYTEST = "{python} -m pytest -q -p no:cacheprovider"


def worktrees(tmp_path: Path, files: dict[str, str], count: int = 2) -> list[Path]:
    """A repository laid out as agentos lays it out: worktrees under .agentos/worktrees/N."""
    repo = make_repo(tmp_path / "repo", files)
    (repo / ".agentos").mkdir()
    (repo / ".agentos" / ".gitignore").write_text("*\n")
    trees = [repo / ".agentos" / "worktrees" / str(n) for n in range(1, count + 1)]
    for tree in trees:
        git(repo, "worktree", "add", "-q", "-b", f"issue-{tree.name}", str(tree))
    return trees


def python_says(worktree: Path, code: str) -> str:
    python = worktree / ".venv" / "bin" / "python"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_second_worktree_gets_a_ready_made_copy_bound_to_its_own_source(tmp_path):
    first, second = worktrees(tmp_path, project_files())

    made = TestEnvironment(first, ImplementationStageConfig(), UNITTEST).ensure()
    copied = TestEnvironment(second, ImplementationStageConfig(), UNITTEST).ensure()

    assert made.what.startswith("virtual environment .venv with uv (-e .)")
    assert copied.what == "virtual environment .venv, a ready-made copy (made with uv: -e .)"
    for tree in (first, second):
        assert python_says(tree, "import demo_pkg; print(demo_pkg.__file__)") == str(tree / "src/demo_pkg/__init__.py")
        assert str(first) not in (tree / ".venv/bin/activate").read_text() or tree == first
        assert run_tests(expand_command(UNITTEST, tree), tree, 60).passed == 1
    assert cache_root(second) == tmp_path / "repo/.agentos/cache/testenv"


def test_the_editable_installs_egg_info_is_kept_out_of_git(tmp_path):
    (tree,) = worktrees(tmp_path, project_files(), count=1)

    done = TestEnvironment(tree, ImplementationStageConfig(), UNITTEST).ensure()

    assert (tree / "src/demo_pkg.egg-info/PKG-INFO").is_file()
    assert done.what.endswith("; kept out of git: src/demo_pkg.egg-info/")
    assert git(tree, "status", "--porcelain", "--untracked-files=all") == ""
    git(tree, "add", "-A")
    assert git(tree, "diff", "--cached", "--name-only") == ""


def test_a_new_file_left_by_the_setup_is_excluded_without_touching_the_tree(tmp_path):
    (tree,) = worktrees(tmp_path, {"setup.py": "", "tests/test_a.py": ""}, count=1)
    cfg = ImplementationStageConfig(setup_command="echo '__version__ = 1' > _version.py")

    done = TestEnvironment(tree, cfg, UNITTEST).ensure()

    assert done.what.endswith("kept out of git: _version.py")
    assert Checkout(tree).dirty_paths() == [] and Checkout(tree).changed_since("HEAD") == []
    assert Checkout(tree).commit_all("nothing of the implementer's") is None
    user_checkout = tree.parents[2]
    (user_checkout / "_version.py").write_text("the user's own\n")
    assert git(user_checkout, "status", "--porcelain") == "?? _version.py\n"  # the user's checkout still sees it


def test_pip_is_the_fallback_when_uv_is_missing(tmp_path):
    wheel = make_wheel(tmp_path)
    (tree,) = worktrees(tmp_path, {"requirements.txt": f"{wheel}\n", "tests/test_a.py": ""}, count=1)

    done = TestEnvironment(tree, ImplementationStageConfig(), UNITTEST, uv=None).ensure()

    assert done.what == "virtual environment .venv with pip (uv is not installed) (-r requirements.txt)"
    assert python_says(tree, "import tinydep; print(tinydep.VALUE)") == "42"


def test_pip_is_the_fallback_when_uv_fails(tmp_path):
    wheel = make_wheel(tmp_path)
    (tree,) = worktrees(tmp_path, {"requirements.txt": f"{wheel}\n", "tests/test_a.py": ""}, count=1)

    done = TestEnvironment(tree, ImplementationStageConfig(), UNITTEST, uv="/bin/false").ensure()

    assert "with pip (uv failed: creating the venv failed (exit 1)" in done.what
    assert python_says(tree, "import tinydep; print(tinydep.VALUE)") == "42"


def run(command: str, exit_code: int | None, passed: int = 0, failed: int = 0, errors: int = 0) -> TestRun:
    return TestRun(command=command, exit_code=exit_code, timed_out=exit_code is None, duration_s=1.0,
                   passed=passed, failed=failed, errors=errors, skipped=0, failed_tests=[], output="",
                   counts_known=bool(passed or failed or errors), timeout_s=60)


@pytest.mark.parametrize("test_run, failed", [
    (run("/w/.venv/bin/python -m pytest -q", 1), True),  # a conftest hook pytest no longer accepts
    (run("/w/.venv/bin/python -m pytest -q", 2, errors=1), True),  # errors during collection
    (run("/w/.venv/bin/python -m pytest -q", 4), True),  # usage error: an option of a plugin
    (run("/w/.venv/bin/python -m pytest -q", 1, passed=3, failed=1), False),  # the tests ran
    (run("/w/.venv/bin/python -m pytest -q", 5), False),  # nothing collected: not the runner's fault
    (run("/w/.venv/bin/python -m pytest -q", None), False),  # timed out
    (run("/w/.venv/bin/python -m unittest discover", 1), False),
])
def test_collection_failed(test_run, failed):
    assert collection_failed(test_run) is failed


def test_no_fallback_without_pytest_in_a_venv_of_ours(tmp_path):
    missing = make_repo(tmp_path / "b", {"tests/test_a.py": "import pytest\n"})

    assert TestEnvironment(missing, ImplementationStageConfig(), UNITTEST).fallback_runner() is None
    assert TestEnvironment(missing, ImplementationStageConfig(), PYTEST).fallback_runner() is None
    assert TestEnvironment(missing, ImplementationStageConfig(setup_command="true"), PYTEST).fallback_runner() is None


def test_no_fallback_below_pytest_7_or_the_projects_minversion(tmp_path):
    oldest = make_repo(tmp_path / "a", {"tests/test_a.py": "import pytest\n"})
    (oldest / ".venv/lib/python3.11/site-packages/pytest-7.4.4.dist-info").mkdir(parents=True)
    pinned = make_repo(tmp_path / "b", {"pytest.ini": "[pytest]\nminversion = 9.0\n"})
    (pinned / ".venv/lib/python3.11/site-packages/pytest-9.1.0.dist-info").mkdir(parents=True)

    assert TestEnvironment(oldest, ImplementationStageConfig(), PYTEST).fallback_runner() is None
    assert TestEnvironment(pinned, ImplementationStageConfig(), PYTEST).fallback_runner() is None


def fallback_after_a_failed_collection(tree):
    """Set up, see the base run fail to collect, take the fallback runner: (what it said, the run after)."""
    env = TestEnvironment(tree, ImplementationStageConfig(), PYTEST)
    env.ensure()
    base = run_tests(expand_command(PYTEST, tree), tree, 120, env=env.variables())
    assert collection_failed(base), base.output
    said = env.fallback_runner()
    return said, run_tests(expand_command(PYTEST, tree), tree, 120, env=env.variables())


OLD_HOOK = "def pytest_collect_file(path, parent):  # py.path hook argument, gone in pytest 9\n    return None\n"


@pytest.mark.real_component
def test_a_conftest_the_newest_pytest_rejects_runs_on_the_previous_major(tmp_path):
    """Installs pytest 9 and 8 from PyPI (uv)."""
    first, second = worktrees(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n", "conftest.py": OLD_HOOK,
                                         "tests/test_a.py": "def test_a():\n    assert True\n"})
    said, again = fallback_after_a_failed_collection(first)

    assert said.startswith("pytest 9.") and "so the tests run with pytest<9" in said
    assert again.ok and again.passed == 1, again.output
    later = TestEnvironment(second, ImplementationStageConfig(), PYTEST).ensure()
    assert "a ready-made copy" in later.what and "pytest<9" in later.what  # remembered for the repository


def test_describe_says_what_would_be_installed_without_doing_it(tmp_path):
    root = make_repo(tmp_path / "wt", {"pyproject.toml": "[project]\nname = 'x'\n[dependency-groups]\ntest = ['attrs']\n",
                                       "tests/test_a.py": "import pytest\n"})

    said = TestEnvironment(root, ImplementationStageConfig(), PYTEST, uv="/x/uv").describe()

    assert said == ".venv made with uv: attrs pytest (from dependency group test; the test runner, which the " \
                   "project does not declare)"
    assert not (root / ".venv").exists()
    assert TestEnvironment(root, ImplementationStageConfig(), PYTEST, uv=None).describe().startswith(
        ".venv made with pip (uv is not installed): attrs pytest")
    assert TestEnvironment(root, ImplementationStageConfig(python_venv=False), PYTEST).describe() == (
        "none: the tests run on agentos's own Python")


def test_a_tracked_file_the_setup_rewrites_is_restored(tmp_path):
    # six, inflection, w3lib ship their egg-info in the sdist; an editable install rewrites it
    (tree,) = worktrees(tmp_path, {"setup.py": "", "pkg.egg-info/PKG-INFO": "Version: 1.0\n"}, count=1)
    cfg = ImplementationStageConfig(setup_command="echo 'Version: 1.0.dev0' > pkg.egg-info/PKG-INFO")

    done = TestEnvironment(tree, cfg, UNITTEST).ensure()

    assert done.what.endswith("kept out of git: pkg.egg-info/PKG-INFO (restored)")
    assert (tree / "pkg.egg-info/PKG-INFO").read_text() == "Version: 1.0\n"


def test_a_published_source_tree_builds_with_the_version_its_pkg_info_says(tmp_path):
    from agentos.workflows.implementation.venvs import build_env

    (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: pluggy\nVersion: 1.5.0\n")

    assert build_env(tmp_path) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.5.0"}
    assert build_env(tmp_path / "elsewhere") == {}


@pytest.mark.real_component
def test_an_old_pin_of_the_projects_gives_way_to_the_newest_pytest(tmp_path):
    """pastel pins pytest ^4.6, which cannot run on this Python; installs pytest 4.6 and the newest from PyPI."""
    (tree,) = worktrees(tmp_path, {"requirements-test.txt": "pytest==4.6.11\n",
                                   "tests/test_a.py": "import pytest\n\n\ndef test_a():\n    assert True\n"}, count=1)
    said, again = fallback_after_a_failed_collection(tree)

    assert said.startswith("pytest 4.6.11 could not collect the tests, so the tests run with the newest pytest")
    assert "overriding the project's pytest with pytest" in said
    assert again.ok and again.passed == 1, again.output


FAKE_NPM = """#!/bin/sh
echo "$@" >> "$NPM_CALLS"
mkdir -p node_modules/tape && echo "module.exports = 1" > node_modules/tape/index.js
"""


def test_node_modules_are_copied_ready_made_into_the_next_worktree(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "npm").write_text(FAKE_NPM)
    (tools / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("NPM_CALLS", str(tmp_path / "calls"))
    package = '{"scripts": {"test": "tape test.js"}}'
    first, second = worktrees(tmp_path, {"package.json": package, "package-lock.json": "{}"})

    made = TestEnvironment(first, ImplementationStageConfig(), "npm test").ensure()
    copied = TestEnvironment(second, ImplementationStageConfig(), "npm test").ensure()

    assert made.what.startswith("npm ci; kept out of git: node_modules/")
    assert copied.what == "node_modules, a ready-made copy (made by `npm ci`); kept out of git: node_modules/"
    assert (tmp_path / "calls").read_text() == "ci\n"  # npm ran once, for the first worktree
    assert (second / "node_modules/tape/index.js").read_text() == "module.exports = 1\n"
    assert git(second, "status", "--porcelain") == ""


def test_describe_tests_for_doctor_and_the_dry_run(tmp_path):
    from agentos.workflows.implementation.environment import describe_tests

    root = make_repo(tmp_path / "wt", {"requirements-dev.txt": "pytest\n", "tests/test_a.py": "import pytest\n"})

    assert describe_tests(root, ImplementationStageConfig()) == [
        "tests: {python} -m pytest -q (pytest: tests/test_a.py imports pytest)",
        "test environment: .venv made with uv: -r requirements-dev.txt (from requirements-dev.txt)"]
    assert describe_tests(tmp_path / "wt" / "tests", ImplementationStageConfig(test_command="make check"))[0] == (
        "tests: make check (set in orchestrator.stages.implementation.test_command)")
    (tmp_path / "empty").mkdir()
    assert describe_tests(tmp_path / "empty", ImplementationStageConfig())[0].startswith(
        "tests: none detected (no test command could be detected")


def test_a_ready_made_copy_that_vanishes_midway_is_made_afresh(tmp_path, monkeypatch):
    from agentos.workflows.implementation import venvs

    first, second = worktrees(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n", "tests/test_a.py": ""})
    TestEnvironment(first, ImplementationStageConfig(), UNITTEST).ensure()

    def pruned_meanwhile(source, target):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(venvs, "_link_tree", pruned_meanwhile)
    done = TestEnvironment(second, ImplementationStageConfig(), UNITTEST).ensure()

    assert done.what == "virtual environment .venv with uv (no dependencies declared)"
    assert (second / ".venv/bin/python").exists()


def test_a_copy_a_killed_process_was_saving_is_removed_by_the_next_save(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    ready = tmp_path / "cache" / "ready-made"
    abandoned, in_progress = ready / f".saving-{dead.pid}-x1", ready / f".saving-{os.getpid()}-x2"
    for staging in (abandoned, in_progress):
        (staging / "tree").mkdir(parents=True)
    tree = tmp_path / "wt" / ".venv"
    (tree / "bin").mkdir(parents=True)
    (tree / "pyvenv.cfg").write_text("home = /usr\n")

    venvs.save(tree, tmp_path / "wt", tmp_path / "cache", "f" * 64, "uv")

    assert not abandoned.exists() and in_progress.exists()
    assert (venvs.saved(tmp_path / "cache", "f" * 64) / "tree" / "pyvenv.cfg").is_file()
