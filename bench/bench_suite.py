"""Wall time of the README's test command, and its ten slowest tests.

    .venv/bin/python bench/bench_suite.py [--fast] [--workers auto]

Runs the suite as `make test` does (pytest with pytest-xdist, `-n auto` from pyproject), or the
core suite as `make test-fast` does (`--fast`), once, and prints the wall time, the test count
and pytest's ten slowest calls. Prints figures; asserts nothing (these machines are shared and
noisy: run it twice and quote the slower figure).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-m", "not corpus and not real_component"]


def run_suite(fast: bool, workers: str) -> tuple[float, str, int]:
    """(wall seconds, pytest's output, exit code) of one run of the suite."""
    command = [sys.executable, "-m", "pytest", "-n", workers, "--durations=10", "-p", "no:cacheprovider"]
    command += FAST if fast else []
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    return time.perf_counter() - started, proc.stdout + proc.stderr, proc.returncode


def slowest(output: str) -> list[str]:
    """pytest's `slowest 10 durations` lines."""
    block = output.split("slowest 10 durations", 1)[-1] if "slowest 10 durations" in output else ""
    return [line.strip() for line in block.splitlines() if re.match(r"\s*\d+\.\d+s ", line)][:10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the core suite only, as `make test-fast`")
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers (default: auto)")
    args = parser.parse_args()
    wall, output, code = run_suite(args.fast, args.workers)
    summary = next((line for line in reversed(output.splitlines()) if re.search(r"\d+ passed", line)), "?")
    print(f"suite: {'make test-fast' if args.fast else 'make test'} on {os.cpu_count()} cores, "
          f"{args.workers} workers")
    print(f"wall time: {wall:.1f} s   ({summary.strip('= ')}; exit {code})")
    print("slowest ten tests:")
    for line in slowest(output):
        print(f"  {line}")


if __name__ == "__main__":
    main()
