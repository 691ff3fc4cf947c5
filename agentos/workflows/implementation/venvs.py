"""Python virtual environments for a worktree's tests: made with uv, pip as the fallback, and
kept ready-made per set of dependency files so another worktree of the same repository gets
one by copying (a Node project's node_modules too).

The cache lives in the repository's `.agentos/cache/testenv` (the user cache when the
repository has no `.agentos/`): uv's own package cache, and one finished environment per
fingerprint of the dependency files (the most recent KEEP_READY_MADE). A ready-made one is
copied with hard links (a copy of each file where links are impossible) and re-linked to the
new worktree: the few text files that name the old worktree (script shebangs, the editable
install's .pth and finder) are rewritten, by replacing them, so the cached copy never changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from agentos.files import pid_running
from agentos.repo.git import Git

UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
KEEP_READY_MADE = 8
"""Ready-made environments kept per repository; the least recently made go first."""
_RELINKED = ("*.pth", "__editable__*", "_*_editable*", "*.dist-info/direct_url.json")

Runner = Callable[[list[str], str, dict[str, str], bool], "str | None"]
"""Runs an argv (what it does, in words; extra environment; whether a failure raises) and
returns None when it succeeded, else what went wrong in a line or two."""


def find_uv() -> str | None:
    """The uv binary the `uv` wheel installed beside agentos, or None."""
    try:
        import uv
        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return None


def cache_root(worktree: Path) -> Path:
    """The repository's `.agentos/cache/testenv`, or the user cache when it has no `.agentos/`."""
    proc = Git(worktree).call("rev-parse", "--path-format=absolute", "--git-common-dir")
    common = Path(proc.stdout.strip()) if proc.returncode == 0 else None
    if common is not None and (common.parent / ".agentos").is_dir():
        return common.parent / ".agentos" / "cache" / "testenv"
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return user / "agentos" / "testenv"


class VenvMaker:
    """Makes a venv and installs into it, with uv when it works and pip otherwise."""

    def __init__(self, venv: Path, cache: Path, run: Runner, uv: str | None, env: dict[str, str] | None = None):
        self.venv = venv
        self.cache = cache
        self.run = run
        self.uv = uv
        self.env = env or {}
        """Environment entries for the builds (e.g. the version a tag-less checkout must claim)."""
        self.tool = "uv" if uv else "pip (uv is not installed)"

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def create(self, args: list[str], override: str | None = None) -> str:
        """A fresh venv with `args` installed, `override` (e.g. "pytest<9") winning over any
        version the project asks for; says which tool made it ("uv", or "pip" and why)."""
        shutil.rmtree(self.venv, ignore_errors=True)  # ours: made by an earlier setup of this worktree
        if self.uv:
            failed = self._uv(["venv", "--quiet", "--python", sys.executable, str(self.venv)], "creating the venv")
            failed = failed or (self._uv_install(args, override) if args else None)
            if not failed:
                return "uv"
            shutil.rmtree(self.venv, ignore_errors=True)
            self.tool = f"pip (uv failed: {failed})"
        self.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)], "creating the virtual environment",
                 self.env, True)
        for step in (args, [override] if override else []):
            if step:  # pip has no overrides: installed after the rest, it replaces the project's pick
                self._pip_install(step)
        return self.tool

    def _uv_install(self, args: list[str], override: str | None) -> str | None:
        overrides: list[str] = []
        if override:
            path = self.cache / "overrides" / f"{re.sub(r'[^A-Za-z0-9.]+', '_', override)}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(override + "\n")
            overrides = ["--override", str(path)]
        return self._uv(["pip", "install", "--quiet", "--python", self.python, *overrides, *args], "installing with uv")

    def _pip_install(self, args: list[str]) -> None:
        pip = [sys.executable, "-m", "pip", "--python", self.python, "install", "--disable-pip-version-check",
               "--no-input", "--quiet", *args]
        self.run(pip, "installing the project's declared dependencies", self.env, True)

    def _uv(self, argv: list[str], what: str) -> str | None:
        return self.run([self.uv, *argv], what, {**self.env, **UV_ENV, "UV_CACHE_DIR": str(self.cache / "uv")}, False)


def build_env(root: Path) -> dict[str, str]:
    """A published source tree (an sdist made a repository) has no git tags to take its version
    from: setuptools-scm and hatch-vcs would build it as 0.1.dev, which resolvers then treat as
    ancient. Its PKG-INFO says the real version; tell them."""
    try:
        found = re.search(r"(?m)^Version:\s*(\S+)", (root / "PKG-INFO").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}
    return {"SETUPTOOLS_SCM_PRETEND_VERSION": found.group(1)} if found else {}


# --- ready-made environments (a venv, a node_modules) --------------------------------------


def saved(cache: Path, fingerprint: str) -> Path:
    return cache / "ready-made" / fingerprint[:32]


def save(tree: Path, worktree: Path, cache: Path, fingerprint: str, tool: str) -> None:
    """Keep a copy of a finished environment (the folder `tree`) for the next worktree with the
    same dependency files."""
    target = saved(cache, fingerprint)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".saving-{os.getpid()}-", dir=target.parent))
    try:
        _link_tree(tree, staging / "tree")
        (staging / "origin.json").write_text(json.dumps({"worktree": str(worktree), "tool": tool}))
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another worktree saved it first, or no room
    _prune(target.parent)


def _remove_abandoned(folder: Path) -> None:
    """Remove the copies a killed process was saving (`.saving-<its pid>-*`)."""
    for staging in folder.glob(".saving-*-*"):
        pid = staging.name.split("-")[1]
        if pid.isdigit() and not pid_running(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _prune(folder: Path) -> None:
    kept = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in kept[:-KEEP_READY_MADE]:
        shutil.rmtree(old, ignore_errors=True)


def restore(tree: Path, worktree: Path, cache: Path, fingerprint: str) -> str | None:
    """Put the ready-made environment for `fingerprint` at `tree`; the tool that made it, or None."""
    source = saved(cache, fingerprint)
    try:
        origin = json.loads((source / "origin.json").read_text())
    except (OSError, ValueError):
        return None
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _link_tree(source / "tree", tree)
        _relink(tree, origin["worktree"], str(worktree))
    except OSError:  # pruned by another worktree's set-up meanwhile: make one instead
        shutil.rmtree(tree, ignore_errors=True)
        return None
    return str(origin.get("tool", "uv"))


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _relink(tree: Path, old: str, new: str) -> None:
    """Rewrite the files of a venv that name the old worktree (node_modules name none); each is
    replaced, never edited in place."""
    scripts = tree / "bin"
    candidates = [p for p in scripts.iterdir() if p.is_file() and not p.is_symlink()] if scripts.is_dir() else []
    candidates += [p for p in [tree / "pyvenv.cfg"] if p.is_file()]
    for site in tree.glob("lib/python*/site-packages"):
        candidates += [p for pattern in _RELINKED for p in site.glob(pattern) if p.is_file()]
    for path in candidates:
        data = path.read_bytes()
        if old.encode() in data and b"\0" not in data[:4096]:
            fresh = path.with_name(path.name + ".relink")
            fresh.write_bytes(data.replace(old.encode(), new.encode()))
            shutil.copymode(path, fresh)
            os.replace(fresh, path)


def installed_version(venv: Path, name: str) -> str | None:
    """The version of distribution `name` installed in `venv`, read from its .dist-info."""
    for info in venv.glob(f"lib/python*/site-packages/{name}-*.dist-info"):
        return info.name[len(name) + 1:-len(".dist-info")]
    return None


# --- the pytest a repository's tests needed ---------------------------------------------------


def runner_caps(cache: Path) -> dict[str, str]:
    """Per fingerprint of dependency files, the pytest its tests needed ("pytest<9", "pytest")."""
    try:
        return json.loads((cache / "runner-caps.json").read_text())
    except (OSError, ValueError):
        return {}


def remember_runner_cap(cache: Path, fingerprint: str, runner: str) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "runner-caps.json").write_text(json.dumps({**runner_caps(cache), fingerprint: runner}, indent=1))
