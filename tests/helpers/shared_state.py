"""The sample repository set up as a team with shared state would have it: its issues on a
(loopback fake) GitHub, a bare repository as `origin`, the config and scripts committed, and
`state.url` pointing at a PostgreSQL database, so any clone on any machine can take an issue on."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE
from tests.forge.fake_github import FakeGitHub
from tests.helpers.repos import bare_repo, git
from tests.helpers.sample import edit_config

TOKEN = "ghp_shared-state-test-token"


def git_only_path(where: Path) -> str:
    """A PATH with git alone (no `gh` that could hand out a real token)."""
    where.mkdir(parents=True, exist_ok=True)
    if not (where / "git").exists():
        os.symlink(shutil.which("git"), where / "git")
    return str(where)


def share(repo: Path, tmp_path: Path, state_url: str, issues: int = 1) -> tuple[FakeGitHub, Path]:
    """Give the sample repository an origin, a fake GitHub with `issues` issues, and shared state."""
    origin = bare_repo(tmp_path / "origin.git")
    fake = FakeGitHub(owner="acme", name="textkit", token=TOKEN, origin=origin).start()
    for i in range(issues):
        fake.add_issue(ISSUE_TITLE + (f" (copy {i})" if i else ""), ISSUE_BODY, ["bug"])
    edit_config(repo, forge="github", github={"base_url": fake.url, "repo_slug": "acme/textkit"},
                state={"url": state_url})
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "add", ".agentos/config.yaml", ".agentos/scripted")
    git(repo, "commit", "-q", "-m", "agentos config and scripted models")
    git(repo, "push", "-q", "origin", "main")
    return fake, origin


def scripted_calls(root: Path) -> list[dict]:
    """Every request the scripted models received in this clone's runs."""
    logs = sorted((root / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines() if line.strip()]


def journal_digests(root: Path) -> set[str]:
    found = set()
    for journal in (root / ".agentos" / "runs").glob("*/calls.jsonl"):
        found |= {json.loads(line)["response"]["request_id"].removeprefix("scripted-")
                  for line in journal.read_text().splitlines() if line.strip()}
    return found
