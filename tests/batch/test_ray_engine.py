"""A batch on a real local Ray cluster (a head and a second node, each its own `ray start`), with
its state in a real PostgreSQL and its issues on a (loopback) GitHub: the second node is killed
while it runs an issue; the batch still finishes, every issue has one PR, and no model call that
had finished was made again. Bad input for Ray is refused before any model is called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.ray_cluster import RayCluster
from tests.helpers.sample import edit_script, script_replies
from tests.helpers.shared_state import TOKEN, share

pytestmark = pytest.mark.real_component


@pytest.fixture
def cluster(tmp_path):
    pytest.importorskip("ray")
    made = RayCluster(env={"GITHUB_TOKEN": TOKEN})
    try:
        yield made.start_head(cpus=1, cache=tmp_path / "head-cache")
    finally:
        made.stop()


def _batch(repo: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "agentos.cli.main", "batch", "--repo", str(repo), "--plain", "--engine", "ray", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "GITHUB_TOKEN": TOKEN})


def _runs(cache: Path) -> list[Path]:
    return list(cache.glob("agentos/ray/*/*/.agentos/runs/orchestrate-*"))


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _in_second_review(cache: Path) -> Path | None:
    """The run folder (on the node) of an issue whose second LLD review is under way."""
    for run in _runs(cache):
        if any(c["purpose"] == "lld.review" and c["turn"] == 1 for c in _lines(run / "scripted-calls.jsonl")):
            return run
    return None


def test_a_dead_node_s_issue_finishes_elsewhere_without_repeating_finished_calls(sample_repo, tmp_path, postgres,
                                                                                    cluster):
    reviews = script_replies(sample_repo, "reviewer", "lld.review")
    edit_script(sample_repo, "reviewer", "lld.review", [reviews[0], {**reviews[1], "delay_s": 6}])
    fake, _ = share(sample_repo, tmp_path, postgres.new_database("raybatch", owner="agentos_ray"), issues=3)
    node_cache = tmp_path / "node-cache"
    node = cluster.add_node(cpus=2, cache=node_cache)
    try:
        batch = _batch(sample_repo, "--address", cluster.address, "--issues", "1-3", "--workers", "3")
        deadline = time.monotonic() + 240
        while (run := _in_second_review(node_cache)) is None:
            assert time.monotonic() < deadline and batch.poll() is None, batch.stdout.read() if batch.poll() else "slow"
            time.sleep(0.1)
        finished = {c["response"]["request_id"] for c in _lines(run / "calls.jsonl")}
        sent_on_node = _lines(run / "scripted-calls.jsonl")
        cluster.kill(node)
        out, _ = batch.communicate(timeout=600)
    finally:
        fake.stop()
    assert batch.returncode == 0, out
    assert sorted(pr["head"]["ref"] for pr in fake.pulls.values()) == [f"agentos/issue-{n}" for n in (1, 2, 3)]
    # The killed node's issue went on on the head node, from its run folder in the database.
    [again] = [r for r in _runs(tmp_path / "head-cache") if r.name == run.name]
    sent = _lines(again / "scripted-calls.jsonl")
    assert sent[:len(sent_on_node)] == sent_on_node  # brought back from the database
    after = sent[len(sent_on_node):]
    assert after and not ({f"scripted-{c['digest']}" for c in after} & finished), "a finished call was made again"
    assert fake.problems == []
    status = subprocess.run([sys.executable, "-m", "agentos.cli.main", "batch", "status", "--json", "--repo",
                             str(sample_repo)], capture_output=True, text=True, timeout=60)
    rows = json.loads(status.stdout)["issues"]
    assert {r["status"] for r in rows} == {"done"} and max(r["starts"] for r in rows) == 1


def test_ray_refuses_the_local_forge_and_a_missing_database(sample_repo, tmp_path, cluster):
    local = _batch(sample_repo, "--address", cluster.address, "--issues", "1")
    out, _ = local.communicate(timeout=120)
    assert local.returncode == 2 and "local forge" in out and "hint:" in out
    fake, _ = share(sample_repo, tmp_path, "postgresql://nobody@127.0.0.1:9/none")
    try:
        unset = _batch(sample_repo, "--address", cluster.address, "--issues", "1", "--set", "state.url=null")
        said_unset, _ = unset.communicate(timeout=120)
        down = _batch(sample_repo, "--address", cluster.address, "--issues", "1")
        said_down, _ = down.communicate(timeout=120)
    finally:
        fake.stop()
    assert unset.returncode == 2 and "needs state.url" in said_unset
    assert down.returncode == 2 and "cannot connect to the state database" in said_down
    assert not (sample_repo / ".agentos" / "runs").exists()


def test_an_unreachable_cluster_is_refused_at_once(sample_repo, tmp_path, postgres):
    pytest.importorskip("ray")
    fake, _ = share(sample_repo, tmp_path, postgres.new_database("nocluster"))
    try:
        proc = _batch(sample_repo, "--address", "127.0.0.1:9", "--issues", "1")
        out, _ = proc.communicate(timeout=120)
    finally:
        fake.stop()
    assert proc.returncode == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in out
    assert not (sample_repo / ".agentos" / "runs").exists()
