"""Build output never reaches a commit made through `Checkout`, whatever the project's .gitignore says."""

from __future__ import annotations

from pathlib import Path

from agentos.repo.buildoutput import version_files
from agentos.repo.git import Checkout
from agentos.repo.worktrees import ensure_worktree
from tests.helpers.repos import git, make_repo

PYPROJECT = '[build-system]\nrequires = ["setuptools", "setuptools-scm"]\n\n[tool.setuptools_scm]\nwrite_to = "src/p/_version.py"\n'
SHIPPED = {"pyproject.toml": PYPROJECT, "src/p/__init__.py": "", "src/p/_version.py": "version = '1.5.0'\n",
           "src/p.egg-info/PKG-INFO": "Version: 1.5.0\n", "src/build/mod.py": "x = 1\n", ".coveragerc": "[run]\n"}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def set_up_and_run_tests(root: Path) -> None:
    """What an editable install and a test run with coverage leave behind."""
    write(root, {"src/p.egg-info/PKG-INFO": "Version: 0.1.dev1\n", "src/p/_version.py": "version = '0.1.dev1'\n",
                 "build/lib/p/__init__.py": "", "src/p/__pycache__/m.cpython-311.pyc": "\0",
                 ".coverage": "data", "coverage.xml": "<x/>", "htmlcov/index.html": "", ".pytest_cache/v": "",
                 "node_modules/tape/index.js": "", "other.egg-info/PKG-INFO": "", ".venv/bin/python": ""})


def committed(root: Path) -> set[str]:
    return set(git(root, "show", "--name-only", "--format=", "HEAD").split())


def test_the_project_declares_its_version_files(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT + '\n[tool.hatch.build.hooks.vcs]\nversion-file = "./src/q/_v.py"\n',
                     "setup.py": "setup(use_scm_version={'write_to': 'lib/_version.py'})\n"})
    assert version_files(tmp_path) == ["src/p/_version.py", "src/q/_v.py", "lib/_version.py"]
    assert version_files(tmp_path / "missing") == []


def test_only_the_implementers_changes_are_committed_and_tracked_build_files_are_put_back(tmp_path):
    root = make_repo(tmp_path / "repo", SHIPPED)
    set_up_and_run_tests(root)
    write(root, {"src/p/m.py": "def f(): ...\n", "src/build/mod.py": "x = 2\n", ".coveragerc": "[run]\nbranch = 1\n"})
    checkout = Checkout(root)

    sha = checkout.commit_all("the implementer's work")

    assert sha and committed(root) == {"src/p/m.py", "src/build/mod.py", ".coveragerc"}
    assert (root / "src/p.egg-info/PKG-INFO").read_text() == "Version: 1.5.0\n"  # put back as shipped
    assert (root / "src/p/_version.py").read_text() == "version = '1.5.0'\n"
    assert checkout.dirty_paths() == []
    checkout.restore("HEAD")  # cleaning keeps the build output: set-up need not run again
    assert (root / "build/lib/p/__init__.py").exists() and (root / ".venv/bin/python").exists()


def test_build_output_alone_makes_no_commit(tmp_path):
    root = make_repo(tmp_path / "repo", SHIPPED)
    set_up_and_run_tests(root)
    checkout = Checkout(root)
    assert checkout.commit_all("nothing of ours") is None
    assert checkout.changed_since("HEAD") == []


def test_a_gitignore_that_says_otherwise_does_not_matter(tmp_path):
    root = make_repo(tmp_path / "repo", {**SHIPPED, ".gitignore": "# nothing ignored here\n"})
    set_up_and_run_tests(root)
    write(root, {"src/p/m.py": "y = 1\n"})
    Checkout(root).commit_all("work")
    assert committed(root) == {"src/p/m.py"}


def test_the_users_checkout_still_sees_its_own_files(tmp_path):
    root = make_repo(tmp_path / "repo", SHIPPED)
    wt = ensure_worktree(root, tmp_path / "wt", "agentos/issue-1", "main")
    set_up_and_run_tests(wt)
    assert Checkout(wt).commit_all("nothing") is None
    (root / "build").mkdir()
    (root / "build" / "mine.txt").write_text("the user's")
    assert "build/" in git(root, "status", "--porcelain")  # our ignore file lives in the worktree's git folder


def test_a_tracked_file_the_user_ignores_globally_is_still_the_implementers_to_change(tmp_path, monkeypatch):
    global_ignore = tmp_path / "global-ignore"
    global_ignore.write_text("*.log\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    root = make_repo(tmp_path / "repo", {"fixtures/run.log": "old\n"})
    git(root, "config", "core.excludesFile", str(global_ignore))
    (root / "fixtures/run.log").write_text("new\n")
    (root / "debug.log").write_text("untracked, ignored by the user")
    Checkout(root).commit_all("update the fixture")
    assert committed(root) == {"fixtures/run.log"}
