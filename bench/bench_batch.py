"""`agentos batch` wall time on this machine: N issues of the demo repository, scripted models that
take 1 s per answer, the demo's real test runs (in the sandbox where bubblewrap works).

    .venv/bin/python bench/bench_batch.py [--sizes 1 10 50] [--ray-sizes 1 10] [--workers N ...] [--no-ray]

Local pool: wall time per N and worker count, and CPU per issue (the batch process and every
process under it: workers, git, test runs). Ray: the same batch on a local Ray cluster (one head
node with as many CPU slots as workers), its state in a PostgreSQL started here and its issues
on a loopback GitHub; Ray's own overhead per issue is its wall time over the local pool's at the
same N and workers, divided by N. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.demo import create_sample  # noqa: E402
from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE  # noqa: E402
from agentos.forge.local import LocalForge  # noqa: E402

LATENCY_S = 1.0


def slow_models(repo: Path) -> int:
    """Every scripted answer takes LATENCY_S; how many answers one issue needs."""
    calls = 0
    for path in (repo / ".agentos" / "scripted").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for replies in doc["replies"].values():
            for reply in replies:
                reply["delay_s"] = LATENCY_S
            calls += len(replies)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return calls


def sample(root: Path, n: int) -> Path:
    repo = create_sample(root / "repo")
    slow_models(repo)
    forge = LocalForge(repo)
    for i in range(1, n):
        forge.create_issue(f"{ISSUE_TITLE} (copy {i})", ISSUE_BODY, ["bug"])
    return repo


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s of the command and everything under it, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return wall, cpu, proc.returncode


def batch_cmd(repo: Path, workers: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agentos.cli.main", "batch", "--repo", str(repo), "--plain",
            "--workers", str(workers), *extra]


def local_pool(n: int, workers: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        repo = sample(Path(tmp), n)
        return timed(batch_cmd(repo, workers))


def on_ray(sizes: list[int], workers: int) -> dict[int, tuple[float, int]]:
    """Wall time per N on a local Ray cluster (started once), with state in PostgreSQL."""
    from tests.helpers.postgres import Postgres
    from tests.helpers.ray_cluster import RayCluster
    from tests.helpers.shared_state import TOKEN, share

    out: dict[int, tuple[float, int]] = {}
    pg = Postgres().start()
    cluster = RayCluster(env={"GITHUB_TOKEN": TOKEN})
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
            cluster.start_head(cpus=workers, cache=Path(tmp) / "cache")
            for n in sizes:
                root = Path(tmp) / f"n{n}"
                repo = create_sample(root / "repo")
                slow_models(repo)
                fake, _ = share(repo, root, pg.new_database(f"bench{n}"), issues=n)
                try:
                    wall, _, code = timed(batch_cmd(repo, workers, "--engine", "ray", "--address", cluster.address,
                                                    "--issues", f"1-{n}"), env={**os.environ, "GITHUB_TOKEN": TOKEN})
                finally:
                    fake.stop()
                out[n] = (wall, code)
    finally:
        cluster.stop()
        pg.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--ray-sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    calls = slow_models(create_sample(Path(tempfile.mkdtemp(prefix="bench-count-")) / "repo"))
    print(f"{os.cpu_count()} cores; scripted answers take {LATENCY_S:g}s, about {calls} per issue; the demo's tests run")
    print(f"{'engine':<7} {'N':>3} {'workers':>7} {'wall s':>8} {'x one issue':>11} {'CPU s/issue':>11} {'exit':>4}")
    local: dict[tuple[int, int], float] = {}
    one = None
    for workers in args.workers:
        for n in args.sizes:
            wall, cpu, code = local_pool(n, workers)
            local[(n, workers)] = wall
            one = one or (wall if n == 1 else None)
            ratio = f"{wall / one:.1f}" if one else "-"
            print(f"{'local':<7} {n:>3} {workers:>7} {wall:>8.1f} {ratio:>11} {cpu / n:>11.2f} {code:>4}", flush=True)
    if args.no_ray:
        return
    workers = args.workers[0]
    for n, (wall, code) in on_ray(args.ray_sizes, workers).items():
        base = local.get((n, workers))
        overhead = f"  Ray overhead {(wall - base) / n:+.2f}s/issue" if base else ""
        print(f"{'ray':<7} {n:>3} {workers:>7} {wall:>8.1f} {wall / one if one else 0:>11.1f} {'-':>11} {code:>4}"
              f"{overhead}", flush=True)


if __name__ == "__main__":
    main()
