"""How fast the commands a person types answer: wall time of each as a fresh process.

    .venv/bin/python bench/bench_cli.py [--runs N]

Makes the demo's sample repository in a temporary folder, runs the whole pipeline on it once
(scripted models), then times `agentos status 1`, `agentos runs`, `orchestrate --help` and
`orchestrate --issue N --dry-run` (on a second, unstarted issue, so the plan is computed in
full), each N times, and prints the median wall time, its spread, and the median CPU time (which
a busy machine hardly changes). The goal for each is 0.3 s wall on a quiet machine.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.demo import create_sample  # noqa: E402

GOAL_S = 0.3


def timed(argv: list[str], cwd: Path, runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of each of `runs` runs of argv (output discarded; a failure
    stops the bench). CPU time (user + system of the child) hardly depends on how busy the
    machine is; wall time does."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    agentos, orchestrate = str(bin_dir / "agentos"), str(bin_dir / "orchestrate")
    with tempfile.TemporaryDirectory() as tmp:
        repo = create_sample(Path(tmp) / "repo")
        subprocess.run([orchestrate, "--issue", "1", "--plain"], cwd=repo, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        made = subprocess.run([agentos, "issue", "new", "--title", "Second issue"], cwd=repo, check=True,
                              capture_output=True, text=True).stdout
        second = made.split("#", 1)[1].split(":", 1)[0]  # "created issue #3: ..." (PRs share the numbers)
        cases = {
            "agentos status 1": [agentos, "status", "1"],
            "agentos runs": [agentos, "runs"],
            "orchestrate --help": [orchestrate, "--help"],
            "orchestrate --issue N --dry-run": [orchestrate, "--issue", second, "--dry-run"],
        }
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.runs} runs each; goal {GOAL_S:.1f}s")
        print(f"{'command':<34} {'wall median':>11} {'min':>7} {'max':>7} {'CPU median':>11}")
        for name, argv in cases.items():
            walls, cpus = timed(argv, repo, args.runs)
            median = statistics.median(walls)
            mark = "ok" if median <= GOAL_S else "over"
            print(f"{name:<34} {median:>10.3f}s {min(walls):>6.3f}s {max(walls):>6.3f}s "
                  f"{statistics.median(cpus):>10.3f}s  {mark}")


if __name__ == "__main__":
    main()
