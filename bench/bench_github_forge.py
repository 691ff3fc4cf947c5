"""The GitHub forge's cost: API requests per run, and time per forge call and per whole run.

    .venv/bin/python bench/bench_github_forge.py [--runs 3] [--calls 30]

Against the loopback fake GitHub of the tests (no network): this measures agentos and
githubkit, not GitHub's latency, which adds roughly one round trip per request counted here.
The whole demo pipeline runs once on the local forge and once on the fake GitHub, so the
difference is the forge's share. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from agentos.demo import create_sample  # noqa: E402
from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE  # noqa: E402
from agentos.forge.github import GitHubForge  # noqa: E402
from agentos.forge.remote import RepoSlug, Token  # noqa: E402
from agentos.workflows.orchestrator.run import orchestrate  # noqa: E402
from agentos.workflows.orchestrator.session import RunOptions  # noqa: E402
from tests.forge.fake_github import FakeGitHub  # noqa: E402

TOKEN = "bench-token"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", *args], cwd=cwd, check=True,
                   capture_output=True)


def _github_sample(folder: Path, fake: FakeGitHub) -> Path:
    repo = create_sample(folder / "repo")
    _git(folder, "init", "-q", "--bare", "-b", "main", "origin.git")
    _git(repo, "remote", "add", "origin", str(folder / "origin.git"))
    _git(repo, "push", "-q", "origin", "main")
    fake.origin = folder / "origin.git"
    fake.add_issue(ISSUE_TITLE, ISSUE_BODY, ["bug"])
    path = repo / ".agentos" / "config.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["orchestrator"].update(forge="github", github={"base_url": fake.url, "repo_slug": "acme/textkit"})
    path.write_text(yaml.safe_dump(doc))
    return repo


def _timed_run(repo: Path) -> float:
    started = time.perf_counter()
    result = orchestrate(RunOptions(issue=1, repo=repo, plain=True), stream=open(os.devnull, "w"))
    assert result.exit_code == 0, result.message
    return time.perf_counter() - started


def whole_runs(runs: int) -> None:
    local, remote, counts = [], [], collections.Counter()
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            local.append(_timed_run(create_sample(Path(tmp) / "repo")))
        with tempfile.TemporaryDirectory() as tmp, FakeGitHub(owner="acme", name="textkit", token=TOKEN) as fake:
            os.environ["GITHUB_TOKEN"] = TOKEN
            remote.append(_timed_run(_github_sample(Path(tmp), fake)))
            counts = collections.Counter(f"{r.method} {_route(r.path) or '(the repository)'}" for r in fake.requests)
    print(f"whole demo pipeline, local forge:       median {statistics.median(local):.2f} s over {runs} run(s)")
    print(f"whole demo pipeline, fake GitHub forge: median {statistics.median(remote):.2f} s over {runs} run(s)")
    print(f"API requests in one run: {sum(counts.values())}")
    for route, n in counts.most_common():
        print(f"  {n:3d}  {route}")


def _route(path: str) -> str:
    return re.sub(r"/\d+", "/{n}", path.replace("/repos/acme/textkit", ""))


def per_call(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=TOKEN) as fake:
        root = Path(tmp)
        _git(root, "init", "-q")
        forge = GitHubForge(root, RepoSlug("acme", "widgets"), Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url)
        quiet, busy = fake.add_issue("quiet", "b"), fake.add_issue("busy", "b")
        for i in range(250):
            fake.add_comment(busy, "alice", f"comment {i}")
        cases = {"get_issue (no comments, 1 request)": lambda: forge.get_issue(quiet),
                 "get_issue (250 comments, 4 requests)": lambda: forge.get_issue(busy),
                 "upsert_comment (edit in place, 1 request)": lambda: forge.upsert_comment(
                     quiet, "<!-- m -->", f"<!-- m --> {time.perf_counter()}"),
                 "find_pr (1 request)": lambda: forge.find_pr("none")}
        for name, call in cases.items():
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                call()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            print(f"{name:<44} median {statistics.median(times):6.1f} ms   p90 {times[int(len(times) * 0.9)]:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    per_call(args.calls)
    whole_runs(args.runs)


if __name__ == "__main__":
    main()
