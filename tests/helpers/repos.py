"""Git repositories for tests. Identity and config come from the session's hermetic git
config (tests/conftest.py), so nothing here sets a user or turns signing off."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd`; its standard output, as git wrote it. Fails the test on an error."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def rev(cwd: Path, ref: str) -> str | None:
    """The commit `ref` names in the repository at `cwd` (a bare one too), or None if none."""
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=cwd,
                          capture_output=True, text=True)
    return proc.stdout.strip() or None


def make_repo(root: Path, files: dict[str, str] | None = None, branch: str = "main", message: str = "initial") -> Path:
    """A repository at `root` on `branch` with one commit holding `files` (a README by default)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", branch)
    for rel, text in (files or {"README.md": "demo\n"}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return root


def bare_repo(path: Path) -> Path:
    """An empty bare repository (a remote) whose default branch is main."""
    git(path.parent, "init", "-q", "--bare", "-b", "main", str(path))
    return path


def push_from_another_clone(origin: Path, branch: str, clone: Path) -> Path:
    """Someone else's work: `origin` cloned at `clone`, one commit on `branch`, pushed back."""
    git(clone.parent, "clone", "-q", str(origin), str(clone))
    git(clone, "switch", "-q", "-c", branch)
    git(clone, "commit", "-q", "--allow-empty", "-m", "someone else's work")
    git(clone, "push", "-q", "origin", branch)
    return clone


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (including .git), for byte-for-byte comparisons."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
