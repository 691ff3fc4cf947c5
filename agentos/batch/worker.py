"""One issue of a batch, in a worker process of its own: `python -m agentos.batch.worker REPO BATCH ISSUE`.

The issue runs exactly as `orchestrate --issue N --no-input` would (the same `orchestrate`
call, so the same run record, worktree, branch, checkpoints and PR), with the batch's options
and its shared limits. How it ended goes to the batch's result file for the issue.

A worker never outlives its batch: if the batch process goes away (killed, even with SIGKILL),
the worker notices within a second and ends like on SIGTERM, which unwinds the run (ending the
child processes it started, through the process runner's cleanup) and leaves its checkpoint
for the next batch to continue.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from agentos.batch import record as batches
from agentos.errors import AgentosError, ExitCode
from agentos.files import write_atomic
from agentos.paths import RepoLayout
from agentos.process import end_children

WATCH_S = 0.5


def options_path(layout: RepoLayout, batch_id: str) -> Path:
    """The run options every worker of the batch uses (config file, --set, flags)."""
    return batches.batch_dir(layout, batch_id) / "options.json"


def run_issue(layout: RepoLayout, batch_id: str, issue: int) -> dict:
    """Run the issue as `orchestrate` does; how it ended, as the result file records it. Another run
    of the issue still alive (say, a killed batch's worker not yet gone) is waited for."""
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    saved = json.loads(options_path(layout, batch_id).read_text())
    opts = RunOptions(issue=issue, repo=layout.root, config_file=Path(saved["config_file"]) if saved["config_file"] else None,
                      sets=saved["sets"], flags=saved["flags"], plain=True, wait=True,
                      limits=batches.limits_path(layout, batch_id))
    try:
        result = orchestrate(opts, ask=None, stream=sys.stderr)
        outcome = {"status": result.status, "exit_code": int(result.exit_code), "message": result.message,
                   "run_id": result.run_id}
    except AgentosError as exc:
        status = "budget" if exc.exit_code == ExitCode.BUDGET else "failed"
        outcome = {"status": status, "exit_code": int(exc.exit_code), "message": str(exc), "run_id": None}
    write_atomic(batches.result_path(layout, batch_id, issue), json.dumps(outcome))
    return outcome


def end_with_parent() -> None:
    """SIGTERM ends the worker by unwinding (so cleanups run); so does the batch process going away."""
    def unwind(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    repo, batch_id, issue = (argv if argv is not None else sys.argv[1:])
    end_with_parent()
    try:
        return run_issue(RepoLayout(Path(repo)), batch_id, int(issue))["exit_code"]
    finally:
        end_children()  # on every way out, whatever it started (tests, set-up, agent CLIs) ends too


if __name__ == "__main__":
    raise SystemExit(main())
