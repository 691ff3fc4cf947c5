"""The local engine: a pool of worker processes on this machine, one issue per process.

Each slot of the pool is a thread that takes the next issue and runs its worker through the
process runner (its own process group, bounded in time, ended as a whole). The threads only
wait; the work happens in the worker processes, so issues run on every core.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from agentos.batch.record import limits_path
from agentos.paths import RepoLayout
from agentos.process import BoundedRun, run_bounded

OUTPUT_KEPT = 4000


class LocalPool:
    name = "local"

    def __init__(self, workers: int, timeout_s: float):
        self.workers = workers
        self.timeout_s = timeout_s

    def limits_at(self, layout: RepoLayout, batch_id: str) -> Path:
        """The batch's shared limits: a SQLite file in its folder."""
        return limits_path(layout, batch_id)

    def run(self, root: Path, batch_id: str, issues: list[int], started: Callable[[int], None],
            ended: Callable[[int, BoundedRun], None], options: dict, limits: Path) -> None:
        """Run every issue's worker, `workers` at a time; `started`/`ended` hear each one (from pool
        threads). The workers read `options` and `limits` from the batch's folder."""
        queue = deque(issues)
        lock = threading.Lock()

        def slot() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    issue = queue.popleft()
                started(issue)
                ended(issue, self._work(root, batch_id, issue))

        threads = [threading.Thread(target=slot, name=f"batch-slot-{i}", daemon=True)
                   for i in range(min(self.workers, len(issues)))]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():  # a join with a timeout, so Ctrl-C reaches this thread
                t.join(0.5)

    def _work(self, root: Path, batch_id: str, issue: int) -> BoundedRun:
        argv = [sys.executable, "-m", "agentos.batch.worker", str(root), batch_id, str(issue)]
        env = {"PYTHONUNBUFFERED": "1", "COLUMNS": os.environ.get("COLUMNS", "120")}
        return run_bounded(argv, root, self.timeout_s, head_chars=OUTPUT_KEPT, tail_chars=OUTPUT_KEPT, env=env)
