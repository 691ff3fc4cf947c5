"""Deciding a gate from the dashboard, and continuing the run afterwards.

A decision is recorded by the same function as `agentos approve|reject` (commands/gates.py), after
two checks the page needs and the terminal does not: the gate the page showed is still the one
the run waits at, and nobody decided it meanwhile. Then, as `dashboard.continue_runs` says, the
server continues the run at once in the background (as `orchestrate --issue N`: the same command,
the same execute path, its own process, ended with the server) or leaves it to `agentos poll`.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from agentos import runs
from agentos.commands.gates import record_decision
from agentos.config import load_config
from agentos.errors import UsageError
from agentos.paths import RepoLayout
from agentos.process import Background
from agentos.workflows.orchestrator.session import RunOptions


class GateNotPending(UsageError):
    """The page showed a gate the run no longer waits at (decided, moved on, or never there)."""


@dataclass
class Continuation:
    """A run the server continues in the background."""

    issue: int
    process: Background

    @property
    def running(self) -> bool:
        return self.process.exit_code() is None


class Continuations:
    """The runs this server continues, one per issue at most; `end_all` ends them with the server."""

    def __init__(self, layout: RepoLayout):
        self.layout = layout
        self._jobs: dict[int, Continuation] = {}
        self._lock = threading.Lock()

    def start(self, issue: int) -> Continuation:
        """Continue the issue's run (`orchestrate --issue N`), unless this server already does."""
        with self._lock:
            job = self._jobs.get(issue)
            if job is None or not job.running:
                argv = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", str(issue),
                        "--repo", str(self.layout.root), "--plain", "--no-input"]
                job = Continuation(issue, Background(argv, self.layout.root, log_of(self.layout, issue)))
                self._jobs[issue] = job
            return job

    def get(self, issue: int) -> Continuation | None:
        return self._jobs.get(issue)

    def end_all(self) -> list[int]:
        """End every run still going (its checkpoint stays: the same command continues it); their issues."""
        with self._lock:
            going = [job for job in self._jobs.values() if job.running]
            for job in going:
                job.process.end()
            return [job.issue for job in going]


def decide(layout: RepoLayout, issue: int, gate: str, action: str, feedback: str | None,
           continuations: Continuations) -> None:
    """Record the decision for `gate` of the issue's paused run; then continue it as configured."""
    if action not in ("approve", "reject"):
        raise UsageError(f"unknown decision {action!r}", "approve or reject")
    _check_pending(layout, issue, gate)
    record_decision(RunOptions(issue=issue, repo=layout.root), action, feedback)
    if load_config(layout.root).config.dashboard.continue_runs == "server":
        continuations.start(issue)


def _check_pending(layout: RepoLayout, issue: int, gate: str) -> None:
    record = runs.latest(layout, issue)
    waiting = (record.gate or {}).get("gate") if record and record.status == "paused" else None
    if waiting != gate:
        now = f"now waiting at gate {waiting}" if waiting else f"the run is {record.status if record else 'not started'}"
        raise GateNotPending(f"gate {gate} of issue #{issue} is no longer pending: {now}",
                             "reload the page to see where the run stands")
    earlier = runs.take_decision(layout, record)
    if earlier:
        raise GateNotPending(f"gate {gate} of issue #{issue} was already decided ({earlier.get('action')}); "
                             "the run has not taken the decision yet", "reload the page; `agentos poll` continues it")


def log_of(layout: RepoLayout, issue: int) -> Path:
    """Where the output of a run the server continues goes."""
    return layout.logs_dir / f"serve-issue-{issue}.log"
