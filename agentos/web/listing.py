"""The runs list, kept between requests while nothing it was read from has changed.

`readmodel.list_runs` reads every run's files; with hundreds of runs that is most of a page's
time. The server keeps its last answer with a fingerprint of those files (size and modification
time of each run's record, event log and spend ledger) and answers from it while the fingerprint
holds and no run in it is running (a running run's process may die without a file changing).
"""

from __future__ import annotations

import os
import threading

from agentos import readmodel
from agentos.paths import RepoLayout

READ_FROM = ("run.json", "events.jsonl", "spend.jsonl")
"""The files of a run folder that `list_runs` reads."""


class RunsListing:
    def __init__(self, layout: RepoLayout):
        self.layout = layout
        self._lock = threading.Lock()
        self._kept: tuple[tuple, list[readmodel.RunSummary]] | None = None

    def summaries(self) -> list[readmodel.RunSummary]:
        """Every issue's latest run, as `readmodel.list_runs` says (read again when anything changed)."""
        stamp = self._fingerprint()
        with self._lock:
            kept = self._kept
        if kept and kept[0] == stamp and not any(s.status == "running" for s in kept[1]):
            return kept[1]
        fresh = readmodel.list_runs(self.layout)
        with self._lock:
            self._kept = (stamp, fresh)
        return fresh

    def _fingerprint(self) -> tuple:
        try:
            folders = sorted(entry.path for entry in os.scandir(self.layout.runs_dir) if entry.is_dir())
        except FileNotFoundError:
            return ()
        return tuple((folder, *(_stat(os.path.join(folder, name)) for name in READ_FROM)) for folder in folders)


def _stat(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return (0, 0)
    return (info.st_size, info.st_mtime_ns)
