"""The implementation stage's costs: worktree + setup vs a clone, stage overhead, output floods.

    .venv/bin/python bench/bench_implementation.py [--runs 5] [--files 5000] [--history 500] [--flood-gb 2]

1. Worktree creation and test-environment setup on a repository of N files (a Python
   package with tests, and some history), against `git clone` of the same repository: a
   local clone (objects hard-linked) and `--no-local` (objects copied through a pack, as a
   clone over the network does), each followed by the same setup.
2. The overhead the implementation stage adds around the test runs and the model calls, on
   the demo scenario: the stage's wall time minus the time inside the test command, the
   test-environment setup and the model calls (scripted, zero latency: the worst case for
   this ratio).
3. A test command printing gigabytes: wall time and the peak memory of the process that
   reads it (in a child process, so this script's own memory does not count).

Prints figures; asserts nothing (these machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.config import ImplementationStageConfig  # noqa: E402
from agentos.demo import create_sample  # noqa: E402
from agentos.progress.events import Event  # noqa: E402
from agentos.repo.git import ensure_worktree  # noqa: E402
from agentos.workflows.implementation.environment import TestEnvironment  # noqa: E402

UNITTEST = "{python} -m unittest discover -s tests -t ."


def git(cwd: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True)


def big_repo(root: Path, files: int, history: int) -> Path:
    """A Python package of `files` files (modules, their tests, a pyproject) with `history`
    further commits that each change 20 modules, as a real repository has."""
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'pkg'\nversion = '0'\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "tests" / "__init__.py").write_text("")
    modules = (files - 3) // 2
    for i in range(modules):
        (root / "pkg" / f"mod_{i}.py").write_text(f"def value_{i}():\n    return {i}\n" + "# padding\n" * 40)
        (root / "tests" / f"test_mod_{i}.py").write_text(
            f"from pkg.mod_{i} import value_{i}\n\n\ndef test_value():\n    assert value_{i}() == {i}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "big")
    for c in range(history):
        for i in range(c * 20 % modules, c * 20 % modules + 20):
            with (root / "pkg" / f"mod_{i % modules}.py").open("a") as fh:
                fh.write(f"# change {c}\n")
        git(root, "commit", "-q", "-am", f"change {c}")
    return root


def timed(fn) -> float:
    """Seconds `fn` takes, starting after pending writes are flushed (so that deleting the
    previous run's files does not slow this one down)."""
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def setup_in(path: Path) -> float:
    return timed(lambda: TestEnvironment(path, ImplementationStageConfig(), UNITTEST).ensure())


def worktree_vs_clone(files: int, history: int, runs: int) -> None:
    """Interleaved runs (the disk of a shared machine is noisy); medians."""
    rows: dict[str, list[float]] = {k: [] for k in ("worktree", "clone_local", "clone_full", "setup")}
    with tempfile.TemporaryDirectory() as tmp:
        repo = big_repo(Path(tmp) / "repo", files, history)
        tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True).stdout.count("\n")
        size = sum(p.stat().st_size for p in (repo / ".git" / "objects").rglob("*") if p.is_file())
        for i in range(runs):
            wt = repo / ".agentos" / "worktrees" / str(i + 1)
            ops = {"worktree": lambda: ensure_worktree(repo, wt, f"agentos/issue-{i + 1}", "main"),
                   "clone_local": lambda: git(Path(tmp), "clone", "-q", str(repo), str(Path(tmp) / "c")),
                   "clone_full": lambda: git(Path(tmp), "clone", "-q", "--no-local", str(repo), str(Path(tmp) / "c"))}
            order = list(ops)[i % 3:] + list(ops)[:i % 3]  # rotate, so no kind always goes first
            for kind in order:
                rows[kind].append(timed(ops[kind]))
                shutil.rmtree(Path(tmp) / "c", ignore_errors=True)
            rows["setup"].append(setup_in(wt))
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"1. repository of {tracked} tracked files, {history + 1} commits, {size / 1e6:.1f} MB of objects; "
          f"median of {runs} interleaved runs (seconds)")
    print(f"   git worktree add (ensure_worktree)      {med['worktree']:.3f}")
    print(f"   test environment setup (.venv, no deps) {med['setup']:.3f}")
    print(f"   worktree + setup                        {med['worktree'] + med['setup']:.3f}")
    print(f"   git clone (local, hard links) + setup   {med['clone_local'] + med['setup']:.3f}   (clone alone {med['clone_local']:.3f})")
    print(f"   git clone --no-local (full) + setup     {med['clone_full'] + med['setup']:.3f}   (clone alone {med['clone_full']:.3f})")


class Timers:
    """Time spent inside the test command, the setup and the model calls, while patched in."""

    def __init__(self) -> None:
        self.spent = {"tests": 0.0, "setup": 0.0, "model": 0.0}
        self.stage: dict[str, float] = {}

    def wrap(self, owner, name: str, bucket: str) -> None:
        original = getattr(owner, name)

        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[bucket] += time.perf_counter() - start

        setattr(owner, name, timed_call)

    def handle(self, event: Event) -> None:
        if event.stage == "impl" and event.kind in ("stage_started", "stage_finished"):
            self.stage[event.kind] = time.perf_counter()

    def close(self) -> None:
        pass


@contextmanager
def patched(timers: Timers):
    from agentos.llm.client import ModelClient
    from agentos.workflows.implementation import graph
    from agentos.workflows.orchestrator import run as runner

    saved = (graph.run_tests, TestEnvironment.ensure, ModelClient.complete, runner.build_services)
    timers.wrap(graph, "run_tests", "tests")
    timers.wrap(TestEnvironment, "ensure", "setup")
    timers.wrap(ModelClient, "complete", "model")

    def with_timers(*args, **kwargs):
        services = saved[3](*args, **kwargs)
        services.progress.sinks = [s for s in services.progress.sinks if type(s).__name__ == "JsonlSink"] + [timers]
        return services

    runner.build_services = with_timers
    try:
        yield
    finally:
        graph.run_tests, TestEnvironment.ensure, ModelClient.complete, runner.build_services = saved


def stage_overhead(runs: int) -> None:
    from agentos.workflows.orchestrator.run import RunOptions, orchestrate

    shares, walls, parts = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            repo = create_sample(Path(tmp) / f"demo-{i}")
            timers = Timers()
            with patched(timers):
                result = orchestrate(RunOptions(issue=1, repo=repo, plain=True))
            assert result.exit_code == 0, result.message
            wall = timers.stage["stage_finished"] - timers.stage["stage_started"]
            inside = sum(timers.spent.values())
            walls.append(wall)
            shares.append((wall - inside) / wall)
            parts.append(dict(timers.spent))
    mid = sorted(range(runs), key=lambda i: shares[i])[runs // 2]
    print(f"2. implementation stage on the demo scenario, median of {runs} runs")
    print(f"   stage wall {walls[mid]:.3f}s = tests {parts[mid]['tests']:.3f}s + setup {parts[mid]['setup']:.3f}s"
          f" + model calls {parts[mid]['model']:.3f}s + overhead {walls[mid] - sum(parts[mid].values()):.3f}s")
    print(f"   overhead share: median {statistics.median(shares) * 100:.1f}%  max {max(shares) * 100:.1f}%  (target <= 5%)")


FLOOD = """
import resource, sys, tempfile, time
from pathlib import Path
from agentos.repo.tests import run_tests
size = int(sys.argv[1])
start = time.perf_counter()
run = run_tests(f"head -c {size} /dev/zero | tr '\\\\0' y", Path(tempfile.gettempdir()), timeout_s=600)
took = time.perf_counter() - start
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(run.output), run.exit_code)
"""


def output_flood(gigabytes: float) -> None:
    size = int(gigabytes * 1e9)
    rows = []
    for n in (1_000_000, size):
        out = subprocess.run([sys.executable, "-c", FLOOD, str(n)], check=True, capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent.parent).stdout.split()
        rows.append((n, float(out[0]), int(out[1]) / 1024, int(out[2])))
    print("3. a test command printing a flood of output (peak memory of the reading process)")
    for n, took, peak_mb, kept in rows:
        print(f"   {n / 1e9:7.3f} GB printed: {took:6.2f}s, peak RSS {peak_mb:6.1f} MB, {kept:,} chars kept")
    print(f"   disk used for the output: none (it is read from a pipe); "
          f"self RSS of this bench: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--history", type=int, default=500, help="commits after the first")
    parser.add_argument("--flood-gb", type=float, default=2.0)
    args = parser.parse_args()
    worktree_vs_clone(args.files, args.history, args.runs)
    stage_overhead(args.runs)
    output_flood(args.flood_gb)


if __name__ == "__main__":
    main()
