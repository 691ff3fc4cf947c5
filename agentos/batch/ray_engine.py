"""The Ray engine: each issue of the batch is a Ray task on a cluster (`--engine ray`, `batch.engine: ray`).

A task runs the issue exactly as the local pool's worker does (`orchestrate`), on whichever node
Ray picks (batch/ray_task.py): the node clones the repository from its remote into its own cache,
and the forge (GitHub) is where issues, branches and PRs meet, so the local forge is refused.
Checkpoints, run records, the call journal, the spend ledger and the batch's shared limits live in
PostgreSQL (`state.url`), so when a node dies Ray runs its task again elsewhere and the issue
continues from its last checkpoint, replaying the model calls that had finished.

`ray` is the `scale` extra, imported only here. Everything that can be wrong (no ray, no cluster
at the address, no usable database, the local forge, no remote) is an exit-2 error before any
model is called.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentos import state
from agentos.config import OrchestratorConfig
from agentos.errors import ExitCode, UsageError
from agentos.forge.base import Forge
from agentos.forge.remote import origin_url
from agentos.paths import RepoLayout

TASK_RETRIES = 3
"""How many times Ray runs an issue's task again after its node or worker died."""
REFRESH_S = 2.0


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs the ray package, which is not installed", state.SCALE_HINT) from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A cluster address that does not answer is refused at once (ray.init would wait minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc}",
                         "start it (`ray start --head`), or check --address / batch.address "
                         "(host:port of the head's GCS, or ray://host:10001 for Ray Client)") from None


class RayEngine:
    name = "ray"

    def __init__(self, ray: Any, workers: int, config: OrchestratorConfig, remote: str, url: str):
        self.ray, self.workers, self.config, self.remote, self.url = ray, workers, config, remote, url

    @classmethod
    def connect(cls, config: OrchestratorConfig, layout: RepoLayout, workers: int, forge: Forge) -> RayEngine:
        """Check everything a Ray batch needs, then join the cluster."""
        if forge.name == "local":
            raise UsageError("the local forge (.agentos/issues) cannot be shared by Ray workers on other machines",
                             "use GitHub (forge: github, a token and an origin remote) so every worker reaches the "
                             "issues, branches and PRs; or run the batch here with --engine local")
        if not config.state.url:
            raise UsageError("--engine ray needs state.url: a PostgreSQL database every worker can reach",
                             "set state.url: postgresql://user@host/db in .agentos/config.yaml (or --set state.url=...)")
        remote = origin_url(layout.root, config.github.remote)
        if remote is None:
            raise UsageError(f"--engine ray: the repository has no remote {config.github.remote!r} for workers to clone",
                             "add it (git remote add origin URL) and push the base branch")
        state.prepare(config.state.url)
        ray = _import_ray()
        if config.batch.address:
            check_reachable(config.batch.address)
        if not ray.is_initialized():
            ray.init(address=config.batch.address, logging_level="ERROR", log_to_driver=False)
        return cls(ray, workers, config, remote, config.state.url)

    def limits_at(self, layout: RepoLayout, batch_id: str) -> str:
        """The batch's shared limits: a schema of its own in the state database."""
        schema = "agentos_" + re.sub(r"[^a-z0-9]", "_", batch_id.lower())
        with state.connect(self.url) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        return f"{self.url}{'&' if '?' in self.url else '?'}options=-csearch_path%3D{schema}"

    def run(self, root: Path, batch_id: str, issues: list[int], started: Callable[[int], None],
            ended: Callable[[int, dict], None], options: dict, limits: str) -> None:
        """One task per issue, `workers` at a time; the runs' folders brought here as they go."""
        from agentos.batch.ray_task import run_issue

        task = self.ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(run_issue)
        queue, pending = list(issues), {}
        store = state.RunStore(self.url, self.remote)
        last = 0.0
        try:
            while queue or pending:
                while queue and len(pending) < self.workers:
                    issue = queue.pop(0)
                    started(issue)
                    pending[task.remote({**options, "remote": self.remote, "issue": issue, "limits": limits})] = issue
                done, _ = self.ray.wait(list(pending), num_returns=1, timeout=REFRESH_S)
                if time.monotonic() - last > REFRESH_S:  # the live table reads the runs' events
                    for issue in pending.values():
                        store.restore(root / ".agentos" / "runs", f"orchestrate-{issue}-")
                    last = time.monotonic()
                for ref in done:
                    issue = pending.pop(ref)
                    store.restore(root / ".agentos" / "runs", f"orchestrate-{issue}-")
                    ended(issue, self._outcome(ref))
        finally:
            store.close()
            for ref in pending:
                self.ray.cancel(ref, force=True)

    def _outcome(self, ref: Any) -> dict:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            return {"status": "failed", "exit_code": int(ExitCode.INTERNAL), "run_id": None,
                    "message": f"the issue's Ray task failed after {TASK_RETRIES} retries: {str(exc).splitlines()[0]}"}
