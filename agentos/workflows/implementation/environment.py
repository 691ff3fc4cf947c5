"""The target's own test environment, inside its worktree.

Python targets get a virtual environment at `<worktree>/.venv`, installed with what the
project itself declares (the project in editable mode when it has a build system, its
dependencies and test extras, its requirements files, and pytest when the tests need it);
Node targets get `npm ci`/`npm install`; `setup_command` replaces either. A fingerprint of
the dependency files is kept beside the worktree, so the setup runs again only when they
change, including when the implementer edits them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agentos.config import ImplementationStageConfig
from agentos.errors import TestCommandError
from agentos.process import BoundedRun, run_bounded

SETUP_KEY = "orchestrator.stages.implementation.setup_command"
TEST_EXTRAS = ("test", "tests", "testing", "dev")
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt",
                     "requirements_dev.txt", "requirements_test.txt", "dev-requirements.txt",
                     "test-requirements.txt")
PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", *REQUIREMENT_FILES)
NODE_FILES = ("package.json", "package-lock.json", "npm-shrinkwrap.json")


@dataclass
class SetupReport:
    what: str
    """The setup that ran, in words."""
    duration_s: float


class TestEnvironment:
    """Prepares the worktree's test environment and says how to run commands inside it."""

    __test__ = False  # not a pytest test class

    def __init__(self, worktree: Path, cfg: ImplementationStageConfig, test_command: str):
        self.root = worktree
        self.cfg = cfg
        self.test_command = test_command
        self.marker = worktree.parent / f"{worktree.name}.setup.json"

    @property
    def venv(self) -> Path:
        return self.root / ".venv"

    def variables(self) -> dict[str, str]:
        """Environment entries that put the worktree's .venv (when there is one) first.

        Without a .venv the tests run on agentos's own interpreter, whose installed pytest
        plugins (langsmith's, ~2 s per start) are ours, not the project's: don't autoload them."""
        if not (self.venv / "bin" / "python").exists():
            return {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        return {"VIRTUAL_ENV": str(self.venv), "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}

    def ensure(self) -> SetupReport | None:
        """Run the setup if the dependency files changed since it last ran; None when up to date."""
        kind = self._kind()
        if kind is None:
            return None
        fingerprint = self._fingerprint(kind)
        if self._recorded() == fingerprint:
            return None
        report = self._setup(kind)
        self.marker.write_text(json.dumps({"fingerprint": fingerprint, "setup": report.what}) + "\n")
        return report

    def _kind(self) -> str | None:
        if self.cfg.setup_command:
            return "command"
        if self.cfg.python_venv and self._is_python():
            return "venv"
        if (self.root / "package.json").is_file() and self.test_command.startswith("npm"):
            return "npm"
        return None

    def _is_python(self) -> bool:
        return "{python}" in self.test_command or any((self.root / m).is_file() for m in PYTHON_MARKERS)

    def _fingerprint(self, kind: str) -> str:
        digest = hashlib.sha256(f"{kind}\n{self.cfg.setup_command}\n{sys.version}\n".encode())
        for path in self._dependency_files():
            digest.update(f"{path.relative_to(self.root)}\n".encode() + path.read_bytes())
        return digest.hexdigest()

    def _dependency_files(self) -> list[Path]:
        names = [*PYTHON_MARKERS, *NODE_FILES]
        found = [self.root / n for n in names if (self.root / n).is_file()]
        return found + sorted((self.root / "requirements").glob("*.txt"))

    def _recorded(self) -> str | None:
        try:
            return json.loads(self.marker.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            return None

    def _setup(self, kind: str) -> SetupReport:
        if kind == "command":
            run = self._run(self.cfg.setup_command, "the setup command")
            return SetupReport(f"setup command `{self.cfg.setup_command}`", run.duration_s)
        if kind == "npm":
            command = "npm ci" if (self.root / "package-lock.json").is_file() else "npm install"
            return SetupReport(command, self._run(command, f"`{command}`").duration_s)
        return self._make_venv()

    def _make_venv(self) -> SetupReport:
        """A fresh .venv, ignored by git, with the project's declared dependencies installed."""
        if self.venv.exists():
            shutil.rmtree(self.venv)  # ours: made by an earlier setup of this worktree
        install = python_install_args(self.root, runs_pytest="pytest" in self.test_command)
        create = [sys.executable, "-m", "venv", *([] if install else ["--without-pip"]), str(self.venv)]
        took = self._run(create, "creating the virtual environment").duration_s
        (self.venv / ".gitignore").write_text("*\n")  # never committed, never seen as a change
        if install:
            pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                   "--no-input", "--quiet", *install]
            took += self._run(pip, "installing the project's declared dependencies").duration_s
        what = f"virtual environment .venv ({' '.join(install) if install else 'no dependencies declared'})"
        return SetupReport(what, took)

    def _run(self, command: str | list[str], what: str) -> BoundedRun:
        try:
            run = run_bounded(command, self.root, self.cfg.setup_timeout_s, env=self.variables(), head_chars=2000,
                              tail_chars=4000)
        except OSError as exc:
            raise TestCommandError(f"{what} could not start in {self.root}: {exc.strerror}",
                                   f"set {SETUP_KEY} to a command that works here") from None
        if run.exit_code != 0:
            why = f"timed out after {self.cfg.setup_timeout_s}s" if run.timed_out else f"failed (exit {run.exit_code})"
            raise TestCommandError(
                f"{what} {why} in {self.root}:\n{run.clipped(3000).strip()}",
                f"set {SETUP_KEY} to a command that prepares the tests here (or python_venv: false "
                "to use the current Python), or raise setup_timeout_s",
            )
        return run


def python_install_args(root: Path, runs_pytest: bool) -> list[str]:
    """`pip install` arguments for what the project declares; [] when it declares nothing."""
    project, groups, installable = _pyproject(root)
    optional = project.get("optional-dependencies", {})
    extras = [name for name in TEST_EXTRAS if name in optional]
    declared = [*project.get("dependencies", []), *(dep for name in extras for dep in optional[name])]
    grouped = [dep for name in TEST_EXTRAS for dep in groups.get(name, []) if isinstance(dep, str)]
    args = ["-e", "." + (f"[{','.join(extras)}]" if extras else "")] if installable else list(declared)
    args += grouped
    requirements = [n for n in REQUIREMENT_FILES if (root / n).is_file()]
    requirements += [p.relative_to(root).as_posix() for p in sorted((root / "requirements").glob("*.txt"))]
    for name in requirements:
        args += ["-r", name]
    texts = [*declared, *grouped, *((root / r).read_text(encoding="utf-8", errors="replace") for r in requirements)]
    if runs_pytest and not any("pytest" in t for t in texts):
        args.append("pytest")
    return args


def _pyproject(root: Path) -> tuple[dict, dict, bool]:
    """([project] table, [dependency-groups] table, whether the project can be installed)."""
    path = root / "pyproject.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise TestCommandError(f"{path} is not valid TOML: {exc}",
                               f"fix it, or set {SETUP_KEY} to prepare the tests another way") from None
    installable = "build-system" in doc or (root / "setup.py").is_file()
    return doc.get("project", {}), doc.get("dependency-groups", {}), installable
