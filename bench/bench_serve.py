"""The dashboard: time to first byte of the runs page with 500 runs in the repository, and the
server's memory.

    .venv/bin/python bench/bench_serve.py [--runs 500] [--requests 30]

The repository is the demo's sample with one real run (scripted models, the whole pipeline to
its PR); its run folder (record, events, journal, ledger, lineage) is then copied for issues 2..N
as other issues' runs, a fifth of them paused at a gate and a fifth blocked, so the server reads
500 runs' real files. A real `agentos serve` process answers; time to first byte is measured on
a raw socket from sending the request to the first byte of the answer. The first request after
start is reported apart (cold), then the median and min of the rest (warm). Memory: the server's
resident set (VmRSS) and its peak (VmHWM) from /proc. Goal: runs page TTFB <= 100 ms.
Prints figures; asserts nothing (shared, noisy machines).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.demo import create_sample  # noqa: E402
from agentos.workflows.orchestrator.run import orchestrate  # noqa: E402
from agentos.workflows.orchestrator.session import RunOptions  # noqa: E402


def make_repo(root: Path, count: int) -> Path:
    """The sample with one real run, copied as the runs of issues 2..count."""
    repo = create_sample(root)
    assert orchestrate(RunOptions(issue=1, repo=repo, plain=True), stream=io.StringIO()).exit_code == 0
    runs = repo / ".agentos" / "runs"
    (original,) = list(runs.glob("orchestrate-*"))
    for issue in range(2, count + 1):
        run_id = original.name.replace("orchestrate-1-", f"orchestrate-{issue}-")
        copy = runs / run_id
        shutil.copytree(original, copy)
        record = json.loads((copy / "run.json").read_text())
        record.update(run_id=run_id, issue=issue)
        if issue % 5 == 0:
            record.update(status="paused", gate={"gate": "before_pr", "stage": "impl", "issue": issue})
        elif issue % 5 == 1:
            record.update(status="blocked", message="blocked at impl")
        (copy / "run.json").write_text(json.dumps(record, indent=2))
        events = (copy / "events.jsonl").read_text().replace(original.name, run_id)
        (copy / "events.jsonl").write_text(events.replace('"issue":1,', f'"issue":{issue},'))
    return repo


def ttfb(port: int, path: str) -> tuple[float, int]:
    """Seconds from sending GET `path` to the first byte of the answer; and the answer's size."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        first = sock.recv(1)
        elapsed = time.perf_counter() - started
        size = len(first)
        while chunk := sock.recv(65536):
            size += len(chunk)
    return elapsed, size


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of the process, in MiB."""
    fields = dict(re.findall(r"^(Vm\w+):\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M))
    return {name: int(fields[name]) // 1024 for name in ("VmRSS", "VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", args.runs)
        server = subprocess.Popen([sys.executable, "-m", "agentos.cli.main", "serve", "--repo", str(repo), "--port", "0"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(re.search(r":(\d+)/", server.stdout.readline() + server.stdout.readline()).group(1))
            print(f"{args.runs} runs; server pid {server.pid}; memory at start {memory(server.pid)} MiB")
            for path in ("/", "/api/runs", "/issues/1"):
                cold, size = ttfb(port, path)
                warm = [ttfb(port, path)[0] for _ in range(args.requests)]
                print(f"  GET {path:<10} {size / 1024:7.0f} KiB  TTFB cold {cold * 1000:6.1f} ms; warm median "
                      f"{statistics.median(warm) * 1000:6.1f} ms (min {min(warm) * 1000:.1f})")
            print(f"memory after the requests {memory(server.pid)} MiB")
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
