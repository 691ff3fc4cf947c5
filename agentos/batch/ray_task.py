"""An issue of a Ray batch, on whichever node Ray runs it: a clone of the repository in the node's
own cache, brought up to date from the remote, then `orchestrate` on it (the local pool's
worker does the same in the user's repository)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agentos.errors import AgentosError, ExitCode


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentos" / "ray"


def run_issue(payload: dict) -> dict:
    """Run one issue on this node; how it ended (as the local pool's result file says it)."""
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    try:
        root = node_clone(payload["remote"])
        opts = RunOptions(issue=payload["issue"], repo=root, sets=payload["sets"], flags=payload["flags"],
                          plain=True, wait=True, limits=payload["limits"])
        result = orchestrate(opts, ask=None, stream=sys.stderr)
        return {"status": result.status, "exit_code": int(result.exit_code), "message": result.message,
                "run_id": result.run_id}
    except AgentosError as exc:
        status = "budget" if exc.exit_code == ExitCode.BUDGET else "failed"
        return {"status": status, "exit_code": int(exc.exit_code), "message": str(exc), "run_id": None}


def node_clone(remote: str) -> Path:
    """This node's clone of `remote` (made once, brought up to date each time), under a lock
    so tasks running side by side on the node share it."""
    import ray

    from agentos.forge.remote import GitRemote, find_token, parse_remote

    node = ray.get_runtime_context().get_node_id()[:16]
    dest = cache_root() / node / hashlib.sha256(remote.encode()).hexdigest()[:16]
    dest.parent.mkdir(parents=True, exist_ok=True)
    ref = parse_remote(remote)
    host = ref.host if ref else ""
    with _locked(dest.with_suffix(".lock")):
        GitRemote(dest.parent, remote, host, find_token(host, os.environ) if ref else None).clone_or_update(dest)
    return dest


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
