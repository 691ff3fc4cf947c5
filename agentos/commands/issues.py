"""`agentos issue new|list`: the local forge's issues (.agentos/issues/), from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from agentos.files import read_user_text
from agentos.forge.local import LocalForge
from agentos.paths import find_repo_root


def new_issue(repo: Path | None, title: str, body_file: Path | None, labels: list[str]) -> str:
    """Create an issue whose body comes from a file ('-' for stdin); say how to take it on."""
    issue = LocalForge(find_repo_root(repo)).create_issue(title, _read_body(body_file), labels)
    return f"created issue #{issue.number}: {issue.title}\n  next: orchestrate --issue {issue.number}"


def _read_body(body_file: Path | None) -> str:
    if body_file is None:
        return ""
    if str(body_file) == "-":
        return sys.stdin.read()
    return read_user_text(body_file, "--body-file")


def list_issues(repo: Path | None) -> str:
    """One line per issue: number, state, title."""
    return "\n".join(f"#{issue.number:<4} {issue.state:<6} {issue.title}"
                     for issue in LocalForge(find_repo_root(repo)).list_issues())
