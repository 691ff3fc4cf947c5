"""A secret planted in an issue's title and body (one of ours, from the environment, and a token of
a well-known format that is nobody's we know) reaches no artefact of a whole run: not the commits
on any ref, not a file under .agentos/ (run records, events, journal, state.db's bytes), not the
PR record, not the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentos.forge.local import LocalForge
from tests.helpers.repos import git

OURS = "plantedvalue-0a1b2c3d4e5f6071"
"""The value of a secret variable of the run's environment."""
PASTED = "ghp_" + "Zq7RkW2mXv9TbN4pLs8YcD1fGh3JkA6uEo5i"
"""A GitHub token someone pasted: in no environment, but of GitHub's documented shape."""


def _leaks(data: bytes) -> list[str]:
    return [s for s in (OURS, PASTED) if s.encode() in data]


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_secret_in_the_issue_title_and_body_reaches_no_artefact(sample_repo: Path):
    issue = LocalForge(sample_repo).create_issue(
        f"slugify leaks {OURS} and {PASTED} into slugs",
        f"Reported with my token {OURS} and {PASTED} visible.\n\nslugify keeps repeated dashes.", ["bug"])
    env = {**os.environ, "AGENTOS_TEST_TOKEN": OURS}
    proc = subprocess.run([sys.executable, "-m", "agentos.cli.orchestrate", "--issue", str(issue.number),
                           "--repo", str(sample_repo), "--plain"], capture_output=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    assert _leaks(proc.stdout) == [] and _leaks(proc.stderr) == []
    assert b"[REDACTED:AGENTOS_TEST_TOKEN]" in proc.stderr and b"[REDACTED:github-token]" in proc.stderr

    history = git(sample_repo, "log", "-p", "--all", "--format=%H%n%B")
    assert _leaks(history.encode()) == [] and "[REDACTED:AGENTOS_TEST_TOKEN]" in history
    issue_file = sample_repo / ".agentos" / "issues"
    leaked = [str(p.relative_to(sample_repo)) for p in (sample_repo / ".agentos").rglob("*")
              if p.is_file() and not p.is_relative_to(issue_file) and _leaks(p.read_bytes())]
    assert leaked == []
    pr = LocalForge(sample_repo).find_pr(f"agentos/issue-{issue.number}")
    assert pr.title == ("slugify leaks [REDACTED:AGENTOS_TEST_TOKEN] and [REDACTED:github-token] into slugs "
                        f"(#{issue.number})")
    assert _leaks(pr.body.encode()) == []
