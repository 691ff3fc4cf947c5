"""The target's own test environment, inside its worktree.

Python targets get a virtual environment at `<worktree>/.venv` with what the project itself
declares for its tests (see installplan), made with uv (pip when uv is missing or fails) and
copied ready-made when another worktree of the repository already set up the same dependency
files (see venvs). Node targets get `npm ci` / `yarn install` / `pnpm install`;
`setup_command` replaces either. A fingerprint of the dependency files is kept beside the
worktree, so the setup runs again only when they change, including when the implementer edits
them. Whatever the setup leaves in the worktree that git would see (an `*.egg-info/`, `build/`,
the venv) is kept out of git: folders get a `.gitignore` of `*`, files an entry in the
repository's `info/exclude`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from agentos.config import ImplementationStageConfig
from agentos.errors import TestCommandError
from agentos.process import run_bounded
from agentos.repo import declared
from agentos.repo.testcmd import describe_test_command
from agentos.repo.testreport import TestRun
from agentos.sandbox import Sandbox, unconfined
from agentos.workflows.implementation import untracked, venvs
from agentos.workflows.implementation.installplan import InstallPlan, plan_install

SETUP_KEY = declared.SETUP_KEY
DEPENDENCY_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "tox.toml", "noxfile.py", "pytest.ini",
                    "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")
PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
NODE_INSTALL = {"npm": "npm install", "yarn": "yarn install --frozen-lockfile", "pnpm": "pnpm install --frozen-lockfile"}
OLDEST_FALLBACK_MAJOR = 7
"""The runner fallback goes back at most to this pytest major (pytest<9, then pytest<8)."""


@dataclass
class SetupReport:
    what: str
    """The setup that ran, in words."""
    duration_s: float


def collection_failed(run: TestRun) -> bool:
    """Whether a pytest run ended before any test ran: exit 1-4 (a conftest or plugin that would
    not load, errors at collection, an internal or usage error) with nothing passed or failed."""
    return (not run.timed_out and run.exit_code in (1, 2, 3, 4) and run.passed == 0 and run.failed == 0
            and "pytest" in run.command)


def describe_tests(root: Path, cfg: ImplementationStageConfig) -> list[str]:
    """Lines for `agentos doctor` and `--dry-run`: the test command and why, and what its
    environment would hold (nothing is installed)."""
    command, why = describe_test_command(root, cfg.test_command)
    if command is None:
        return [f"tests: none detected ({why})"]
    return [f"tests: {command} ({why})", f"test environment: {TestEnvironment(root, cfg, command).describe()}"]


class TestEnvironment:
    """Prepares the worktree's test environment and says how to run commands inside it."""

    __test__ = False  # not a pytest test class

    def __init__(self, worktree: Path, cfg: ImplementationStageConfig, test_command: str, *,
                 cache_dir: Path | None = None, uv: str | None = "auto", sandbox: Sandbox | None = None):
        self.root = worktree
        self.sandbox = sandbox or unconfined()
        """Where the set-up runs (with the network, for the package indexes) and the tests."""
        self.cfg = cfg
        self.test_command = test_command
        self.marker = worktree.parent / f"{worktree.name}.setup.json"
        self._cache = cache_dir
        self.uv = venvs.find_uv() if uv == "auto" else uv

    @property
    def venv(self) -> Path:
        return self.root / ".venv"

    @property
    def cache(self) -> Path:
        """Where ready-made environments, uv's package cache and the pytest needed per set of
        dependency files are kept."""
        if self._cache is None:
            self._cache = venvs.cache_root(self.root)
        return self._cache

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
        files = self._fingerprint(kind)
        plan = self._plan(files) if kind == "venv" else None
        fingerprint = _digest(files, json.dumps([plan.args, plan.override])) if plan else files
        ready = kind != "venv" or (self.venv / "bin" / "python").exists()
        if ready and self._recorded() == fingerprint:
            return None
        report = self._setup(kind, plan, fingerprint)
        self.marker.write_text(json.dumps({"fingerprint": fingerprint, "setup": report.what}) + "\n")
        return report

    def describe(self) -> str:
        """What the setup installs and with what, without doing it (for doctor and --dry-run)."""
        kind = self._kind()
        if kind is None:
            return "none: the tests run on agentos's own Python"
        if kind == "command":
            return f"setup command `{self.cfg.setup_command}`"
        if kind == "node":
            return NODE_INSTALL[self.test_command.split(" ")[0]]
        plan = self._plan(self._fingerprint(kind))
        installs = " ".join(plan.args) or "no dependencies declared"
        return f".venv made with {'uv' if self.uv else 'pip (uv is not installed)'}: {installs}" + (
            f" (from {'; '.join(plan.sources)})" if plan.sources else "")

    def fallback_runner(self) -> str | None:
        """After a base run that could not collect the tests (see collection_failed): set up
        again with another pytest, remembered for this repository's dependency files, and say
        so; None when there is nothing left to try. An old pin of the project's gives way to
        the newest pytest; the newest to the previous majors (pytest<9, then pytest<8)."""
        if self._kind() != "venv" or "pytest" not in self.test_command:
            return None
        files = self._fingerprint("venv")
        plan = self._plan(files)
        version = venvs.installed_version(self.venv, "pytest")
        major = _major(version)
        if major is None:
            return None
        if plan.declares_runner and plan.override is None and major <= OLDEST_FALLBACK_MAJOR:
            runner, said = "pytest", "the newest pytest"
        elif major - 1 >= max(OLDEST_FALLBACK_MAJOR, _major(plan.minversion) or 0):
            runner = said = f"pytest<{major}"
        else:
            return None
        venvs.remember_runner_cap(self.cache, files, runner)
        done = self.ensure()
        how = f" ({done.what}, {done.duration_s:.1f}s)" if done else ""
        return f"pytest {version} could not collect the tests, so the tests run with {said}{how}"

    # --- what to set up ------------------------------------------------------------------

    def _kind(self) -> str | None:
        if self.cfg.setup_command:
            return "command"
        python = ("{python}" in self.test_command or any((self.root / m).is_file() for m in PYTHON_MARKERS)
                  or bool(declared.requirement_files(self.root)))
        if self.cfg.python_venv and python:
            return "venv"
        if (self.root / "package.json").is_file() and self.test_command.split(" ")[0] in NODE_INSTALL:
            return "node"
        return None

    def _fingerprint(self, kind: str) -> str:
        digest = hashlib.sha256(f"{kind}\n{self.cfg.setup_command}\n{sys.version}\n{self.test_command}\n".encode())
        names = [n for n in DEPENDENCY_FILES if (self.root / n).is_file()] + declared.requirement_files(self.root)
        for name in names:
            digest.update(f"{name}\n".encode() + (self.root / name).read_bytes())
        return digest.hexdigest()

    def _plan(self, files: str) -> InstallPlan:
        return plan_install(self.root, "pytest" in self.test_command, venvs.runner_caps(self.cache).get(files))

    def _recorded(self) -> str | None:
        try:
            return json.loads(self.marker.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            return None

    # --- setting it up -------------------------------------------------------------------

    def _setup(self, kind: str, plan: InstallPlan | None, fingerprint: str) -> SetupReport:
        started = time.monotonic()
        with untracked.kept_out_of_git(self.root) as kept:
            if kind == "command":
                self._run(self.cfg.setup_command, "the setup command")
                what = f"setup command `{self.cfg.setup_command}`"
            elif kind == "node":
                what = self._node_install(fingerprint)
            else:
                what = self._make_venv(plan, fingerprint)
        if kept:
            what += f"; kept out of git: {', '.join(kept)}"
        if not self.sandbox.off:
            policy = self.sandbox.setup(self.root, self.cache).policy
            what += f"; sandboxed, network {'shared: ' + policy.network_reason if policy.network else 'none'}"
        return SetupReport(what, time.monotonic() - started)

    def _node_install(self, fingerprint: str) -> str:
        """node_modules: copied ready-made when these dependency files were installed before."""
        tool = self.test_command.split(" ")[0]
        locked = (self.root / "package-lock.json").is_file() or (self.root / "npm-shrinkwrap.json").is_file()
        command = "npm ci" if tool == "npm" and locked else NODE_INSTALL[tool]
        modules = self.root / "node_modules"
        if venvs.restore(modules, self.root, self.cache, fingerprint):
            return f"node_modules, a ready-made copy (made by `{command}`)"
        self._run(command, f"`{command}`")
        if modules.is_dir():
            venvs.save(modules, self.root, self.cache, fingerprint, command)
        return command

    def _make_venv(self, plan: InstallPlan, fingerprint: str) -> str:
        """A .venv, ignored by git, with the project's declared test dependencies: copied
        ready-made when these dependency files were set up before, else made and kept."""
        installs = " ".join(plan.args) if plan.args else "no dependencies declared"
        installs += f", overriding the project's pytest with {plan.override}" if plan.override else ""
        if made_by := venvs.restore(self.venv, self.root, self.cache, fingerprint):
            (self.venv / ".gitignore").write_text("*\n")
            return f"virtual environment .venv, a ready-made copy (made with {made_by}: {installs})"
        maker = venvs.VenvMaker(self.venv, self.cache, self._run, self.uv, venvs.build_env(self.root))
        tool = maker.create(plan.args, plan.override)
        (self.venv / ".gitignore").write_text("*\n")  # never committed, never seen as a change
        venvs.save(self.venv, self.root, self.cache, fingerprint, tool)
        return f"virtual environment .venv with {tool} ({installs})"

    def _run(self, command: str | list[str], what: str, extra: dict[str, str] | None = None,
             check: bool = True) -> str | None:
        """Run a setup step; None when it succeeded, else (with `check` false) what went wrong."""
        try:
            run = run_bounded(command, self.root, self.cfg.setup_timeout_s, env={**self.variables(), **(extra or {})},
                              head_chars=2000, tail_chars=4000, confine=self.sandbox.setup(self.root, self.cache))
        except OSError as exc:
            if not check:
                return f"{what} could not start: {exc.strerror}"
            raise TestCommandError(f"{what} could not start in {self.root}: {exc.strerror}",
                                   f"set {SETUP_KEY} to a command that works here") from None
        if run.exit_code == 0:
            return None
        why = f"timed out after {self.cfg.setup_timeout_s}s" if run.timed_out else f"failed (exit {run.exit_code})"
        if not check:
            return f"{what} {why}: {_first_lines(run.clipped(3000))}"
        raise TestCommandError(
            f"{what} {why} in {self.root}:\n{run.clipped(3000).strip()}",
            f"set {SETUP_KEY} to a command that prepares the tests here (or python_venv: false "
            "to use the current Python), or raise setup_timeout_s",
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _major(version: str | None) -> int | None:
    match = re.match(r"(\d+)", version or "")
    return int(match.group(1)) if match else None


def _first_lines(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[:3])[:limit]
