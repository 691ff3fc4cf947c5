"""Engine overhead per stage transition, and `orchestrate --dry-run` wall time.

    .venv/bin/python bench/bench_orchestrator.py [--runs 5]

Transition overhead: the time from one stage's `stage_finished` event to the next stage's
`stage_started` (checkpoint writes, gate node, routing), with the zero-latency scripted model
of the demo. Prints figures; asserts nothing (these machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.demo import create_sample  # noqa: E402
from agentos.progress.events import Event  # noqa: E402


class Clock:
    """A sink that notes perf_counter at each stage boundary."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, str, float]] = []

    def handle(self, event: Event) -> None:
        if event.kind in ("stage_started", "stage_finished", "stage_skipped"):
            self.marks.append((event.kind, event.stage or "", time.perf_counter()))

    def close(self) -> None:
        pass

    def transitions(self) -> list[float]:
        gaps = []
        for (kind, _, t0), (next_kind, _, t1) in zip(self.marks, self.marks[1:]):
            if kind == "stage_finished" and next_kind == "stage_started":
                gaps.append(t1 - t0)
        return gaps


def one_run(root: Path) -> tuple[list[float], float]:
    from agentos.workflows.orchestrator import run as runner
    from agentos.workflows.orchestrator.session import RunOptions

    repo = create_sample(root)
    clock = Clock()
    original = runner.build_services

    def with_clock(*args, **kwargs):
        services = original(*args, **kwargs)
        services.progress.sinks = [s for s in services.progress.sinks if type(s).__name__ == "JsonlSink"] + [clock]
        return services

    runner.build_services = with_clock
    try:
        start = time.perf_counter()
        result = runner.orchestrate(RunOptions(issue=1, repo=repo, plain=True))
        wall = time.perf_counter() - start
    finally:
        runner.build_services = original
    assert result.exit_code == 0, result.message
    return clock.transitions(), wall


def dry_run_times(repo: Path, n: int) -> list[float]:
    cmd = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(repo), "--dry-run"]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    gaps, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            g, w = one_run(Path(tmp) / f"r{i}")
            gaps += g
            walls.append(w)
        dry = dry_run_times(create_sample(Path(tmp) / "dry"), 10)
    ms = sorted(g * 1000 for g in gaps)
    print(f"stage transitions measured: {len(ms)} over {args.runs} full pipeline runs")
    print(f"transition overhead ms: median {statistics.median(ms):.1f}  p90 {ms[int(len(ms) * 0.9) - 1]:.1f}  max {ms[-1]:.1f}  (target median <= 20)")
    print(f"full pipeline wall s (scripted model, real tests): median {statistics.median(walls):.2f}")
    print(f"orchestrate --dry-run wall s: median {statistics.median(dry):.3f}  max {max(dry):.3f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
