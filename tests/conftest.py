"""Shared fixtures: real sample repositories (made by the demo's own code) and scripted models."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentos.demo import create_sample


GIT_ENV_CLEARED = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                   "EMAIL", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


@pytest.fixture(autouse=True, scope="session")
def hermetic_git(tmp_path_factory: pytest.TempPathFactory):
    """No developer's git config (signing, hooks, templates, identity) reaches any test: one
    global config of our own, with a test identity, and no system config."""
    config = tmp_path_factory.mktemp("gitconfig") / ".gitconfig"
    config.write_text("[user]\n\tname = agentos tests\n\temail = tests@agentos.invalid\n"
                      "[init]\n\tdefaultBranch = main\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in GIT_ENV_CLEARED:
            mp.delenv(var, raising=False)
        yield config


def git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def edit_config(repo: Path, **orchestrator: Any) -> None:
    """Deep-merge settings into the repo's .agentos/config.yaml."""
    path = repo / ".agentos" / "config.yaml"
    doc = yaml.safe_load(path.read_text())
    _merge(doc["orchestrator"], orchestrator)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def edit_script(repo: Path, name: str, purpose: str, replies: list[dict]) -> None:
    """Replace the replies for one purpose in one of the repo's scripted model files."""
    path = repo / ".agentos" / "scripted" / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["replies"][purpose] = replies
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def script_replies(repo: Path, name: str, purpose: str) -> list[dict]:
    doc = yaml.safe_load((repo / ".agentos" / "scripted" / f"{name}.yaml").read_text())
    return doc["replies"][purpose]


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """The demo's sample repository with issue #1 and scripted models configured."""
    return create_sample(tmp_path / "repo")


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (including .git), for byte-for-byte comparisons."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
