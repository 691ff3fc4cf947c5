"""A sample repository with many issues for batch tests, and what their runs left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE
from agentos.forge.local import LocalForge


def add_issues(repo: Path, titles: list[str], labels: list[str] | None = None) -> list[int]:
    """More issues like the demo's, with these titles; their numbers."""
    forge = LocalForge(repo)
    return [forge.create_issue(title, ISSUE_BODY, labels or ["bug"]).number for title in titles]


def demo_titles(n: int) -> list[str]:
    return [f"{ISSUE_TITLE} (copy {i})" for i in range(n)]


def add_case(repo: Path, script: str, match: str, replies: dict) -> None:
    """Answer the prompts in which `match` is found with these replies (scripted `cases:`)."""
    path = repo / ".agentos" / "scripted" / f"{script}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("cases", []).append({"match": match, "replies": replies})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def batch_cmd(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "agentos.cli.main", "batch", "--repo", str(repo), "--plain", *args]


def run_batch(repo: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(batch_cmd(repo, *args), capture_output=True, text=True, timeout=timeout)


def batch_json(repo: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "agentos.cli.main", "batch", "status", "--json", "--repo", str(repo)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def statuses(repo: Path) -> dict[int, str]:
    return {row["issue"]: row["status"] for row in batch_json(repo)["issues"]}


def scripted_calls(repo: Path, issue: int) -> list[dict]:
    """Every request the scripted models received for the issue, over all its runs."""
    calls = []
    for log in sorted((repo / ".agentos" / "runs").glob(f"orchestrate-{issue}-*/scripted-calls.jsonl")):
        calls += [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return calls


def journal_digests(repo: Path, issue: int) -> set[str]:
    """The requests whose answers were journalled (finished calls) for the issue."""
    found = set()
    for journal in (repo / ".agentos" / "runs").glob(f"orchestrate-{issue}-*/calls.jsonl"):
        found |= {json.loads(line)["response"]["request_id"].removeprefix("scripted-")
                  for line in journal.read_text().splitlines() if line.strip()}
    return found


def pull_heads(repo: Path) -> list[str]:
    """The head branch of every pull request of the local forge."""
    heads = []
    for path in (repo / ".agentos" / "pulls").glob("*.md"):
        front = path.read_text().split("---")[1]
        heads.append(yaml.safe_load(front)["head"])
    return heads
