"""A real local Ray cluster for the tests: a head node and worker nodes, each a `ray start --block`
process in a session of its own (so one can be killed like a machine that dies), on loopback
ports of their own and a temporary folder of their own; everything is ended at the end."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    def __init__(self, env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="agr-"))  # short: Ray's socket paths live under it
        self.env = {**os.environ, **(env or {})}
        self.port = _free_port()
        self.nodes: list[subprocess.Popen] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ports(self) -> list[str]:
        names = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
                 "runtime-env-agent-port", "node-manager-port", "object-manager-port")
        return [f"--{name}={_free_port()}" for name in names]

    def _start(self, args: list[str], cpus: int, cache: Path) -> subprocess.Popen:
        log = self.root / f"node{len(self.nodes)}.log"
        cmd = [RAY, "start", *args, f"--num-cpus={cpus}", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
               "--block", *self._ports()]
        env = {**self.env, "XDG_CACHE_HOME": str(cache), "RAY_USAGE_STATS_ENABLED": "0"}
        node = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.nodes.append(node)
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        return node

    def start_head(self, cpus: int, cache: Path) -> RayCluster:
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.root}"],
                    cpus, cache)
        return self

    def add_node(self, cpus: int, cache: Path) -> subprocess.Popen:
        return self._start([f"--address={self.address}"], cpus, cache)

    @staticmethod
    def kill(node: subprocess.Popen) -> None:
        """The node dies as a machine would: every process of it, at once."""
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            try:
                os.killpg(node.pid, signal.SIGTERM)
                node.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill(node)
            except ProcessLookupError:
                pass
            try:
                os.killpg(node.pid, signal.SIGKILL)  # what the node left behind in its group
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
