"""The implementation stage's costs: worktree + setup vs a clone, stage overhead, output floods.

    .venv/bin/python bench/bench_implementation.py [--runs 5] [--files 5000] [--history 500] [--flood-gb 2]

1. Worktree creation and test-environment setup on a repository of N files (a Python
   package with tests, and some history), against `git clone` of the same repository: a
   local clone (objects hard-linked) and `--no-local` (objects copied through a pack, as a
   clone over the network does), each followed by the same setup.
2. The overhead the implementation stage adds around the test runs and the model calls, on
   the demo scenario: the stage's wall time minus the time inside the test command, the
   test-environment setup and the model calls; with the scripted model's zero latency (the
   worst case for this ratio) and with a latency per call like a real model's.
3. A test command printing gigabytes: wall time and the peak memory of the process that
   reads it (in a child process, so this script's own memory does not count).

Prints figures; asserts nothing (these machines are shared and noisy).
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
from contextlib import contextmanager
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.config import ImplementationStageConfig  # noqa: E402
from agentos.demo import create_sample  # noqa: E402
from agentos.progress.events import Event  # noqa: E402
from agentos.repo.worktrees import ensure_worktree  # noqa: E402
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
    time.sleep(0.2)
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
            # Nothing is deleted until the end: deleting (and the disk's discards) slows what follows.
            ops = {"worktree": lambda: ensure_worktree(repo, wt, f"agentos/issue-{i + 1}", "main"),
                   "clone_local": lambda: git(Path(tmp), "clone", "-q", str(repo), str(Path(tmp) / f"local-{i}")),
                   "clone_full": lambda: git(Path(tmp), "clone", "-q", "--no-local", str(repo), str(Path(tmp) / f"full-{i}"))}
            order = list(ops)[i % 3:] + list(ops)[:i % 3]  # rotate, so no kind always goes first
            for kind in order:
                rows[kind].append(timed(ops[kind]))
            rows["setup"].append(setup_in(wt))
    med = {k: statistics.median(v) for k, v in rows.items()}
    low = {k: min(v) for k, v in rows.items()}
    print(f"1. repository of {tracked} tracked files, {history + 1} commits, {size / 1e6:.1f} MB of objects; "
          f"{runs} interleaved runs, seconds as median (min)")
    for label, kind in (("git worktree add (ensure_worktree)", "worktree"), ("git clone (local, hard links)", "clone_local"),
                        ("git clone --no-local (full copy)", "clone_full")):
        print(f"   {label:36} {med[kind]:.3f} ({low[kind]:.3f})   + setup: {med[kind] + med['setup']:.3f}")
    print(f"   test environment setup (.venv, no deps) {med['setup']:.3f} ({low['setup']:.3f})")


class Timers:
    """Time spent inside the test command, the setup and the model calls, while patched in."""

    def __init__(self) -> None:
        self.spent = {"tests": 0.0, "setup": 0.0, "model": 0.0}
        self.inside_overhead = {"git": 0.0, "checkpoints": 0.0}
        self.stage: dict[str, float] = {}

    def wrap(self, owner, name: str, bucket: str) -> None:
        original = getattr(owner, name)

        spent = self.spent if bucket in self.spent else self.inside_overhead

        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if "stage_started" in self.stage and "stage_finished" not in self.stage:
                    spent[bucket] += time.perf_counter() - start

        setattr(owner, name, timed_call)

    def handle(self, event: Event) -> None:
        if event.stage == "impl" and event.kind in ("stage_started", "stage_finished"):
            self.stage[event.kind] = time.perf_counter()

    def close(self) -> None:
        pass


@contextmanager
def patched(timers: Timers):
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agentos.llm.client import ModelClient
    from agentos.repo.git import Git
    from agentos.workflows.implementation import worktree
    from agentos.workflows.orchestrator import run as runner

    saved = (worktree.run_tests, TestEnvironment.ensure, ModelClient.complete, runner.build_services,
             Git.call, SqliteSaver.put, SqliteSaver.put_writes)
    timers.wrap(worktree, "run_tests", "tests")
    timers.wrap(TestEnvironment, "ensure", "setup")
    timers.wrap(ModelClient, "complete", "model")
    timers.wrap(Git, "call", "git")
    timers.wrap(SqliteSaver, "put", "checkpoints")
    timers.wrap(SqliteSaver, "put_writes", "checkpoints")

    def with_timers(*args, **kwargs):
        services = saved[3](*args, **kwargs)
        services.progress.sinks = [s for s in services.progress.sinks if type(s).__name__ == "JsonlSink"] + [timers]
        return services

    runner.build_services = with_timers
    try:
        yield
    finally:
        (worktree.run_tests, TestEnvironment.ensure, ModelClient.complete, runner.build_services,
         Git.call, SqliteSaver.put, SqliteSaver.put_writes) = saved


def with_model_latency(repo: Path, seconds: float) -> None:
    """Give every scripted implementer reply a latency, as a real model has."""
    path = repo / ".agentos" / "scripted" / "implementer.yaml"
    doc = yaml.safe_load(path.read_text())
    for replies in doc["replies"].values():
        for reply in replies:
            reply["delay_s"] = seconds
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def stage_overhead(runs: int, latency: float) -> None:
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    shares, walls, parts, inner = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            repo = create_sample(Path(tmp) / f"demo-{i}")
            if latency:
                with_model_latency(repo, latency)
            timers = Timers()
            with patched(timers):
                result = orchestrate(RunOptions(issue=1, repo=repo, plain=True))
            assert result.exit_code == 0, result.message
            wall = timers.stage["stage_finished"] - timers.stage["stage_started"]
            inside = sum(timers.spent.values())
            walls.append(wall)
            shares.append((wall - inside) / wall)
            parts.append(dict(timers.spent))
            inner.append(dict(timers.inside_overhead))
    mid = sorted(range(runs), key=lambda i: shares[i])[runs // 2]
    latency_note = f"model latency {latency:.1f}s per call" if latency else "zero-latency scripted model"
    print(f"2. implementation stage on the demo scenario ({latency_note}), median of {runs} runs")
    print(f"   stage wall {walls[mid]:.3f}s = tests {parts[mid]['tests']:.3f}s + setup {parts[mid]['setup']:.3f}s"
          f" + model calls {parts[mid]['model']:.3f}s + overhead {walls[mid] - sum(parts[mid].values()):.3f}s")
    overhead = walls[mid] - sum(parts[mid].values())
    own = overhead - sum(inner[mid].values())
    print(f"   overhead {overhead * 1000:.0f} ms = git {inner[mid]['git'] * 1000:.0f} ms (commits, worktree queries)"
          f" + checkpoints {inner[mid]['checkpoints'] * 1000:.0f} ms (LangGraph, durability sync) + the rest {own * 1000:.0f} ms")
    print(f"   overhead share: median {statistics.median(shares) * 100:.1f}%  max {max(shares) * 100:.1f}%  (target <= 5%)")


FLOOD = """
import resource, sys, tempfile, time
from pathlib import Path
from agentos.repo.testcmd import run_tests
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
    parser.add_argument("--model-latency", type=float, default=1.0,
                        help="also measure with this many seconds per implementer call (0: skip)")
    args = parser.parse_args()
    worktree_vs_clone(args.files, args.history, args.runs)
    stage_overhead(args.runs, 0.0)
    if args.model_latency:
        stage_overhead(args.runs, args.model_latency)
    output_flood(args.flood_gb)


if __name__ == "__main__":
    main()
