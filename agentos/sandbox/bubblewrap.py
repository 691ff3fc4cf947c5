"""The bubblewrap backend: each sandboxed command runs under `bwrap` (the sandbox Flatpak and
Anthropic's sandbox runtime use), its limits set by `prlimit` on the way in.

The mounts are an allowlist: the system directories and the policy's read-only paths, a fresh
/proc, /dev and /tmp, an empty tmpfs for HOME, the worktree read-write and, last, the worktree's
folders that stay read-only. All namespaces are unshared (the network too, unless the policy
shares it); bwrap dies with its parent and starts a new session, so the sandbox cannot reach
our terminal.

RLIMIT_NPROC counts processes per real user, and the kernel does not enforce it for root (a
user namespace keeps the real uid 0). So as root the command also runs in a pids cgroup of its
own where one can be made (cgroup v1 `pids` or v2 with the pids controller), with `pids.max`
set to the policy's limit; where none can be made the process limit is wall time alone, and
`describe` says so.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from agentos.process import run_bounded
from agentos.sandbox.policy import SYSTEM_DIRS, Launch, Policy

SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_counter = itertools.count()


class Bubblewrap:
    """Runs commands under bwrap; `available()` says whether it works here and if not why."""

    name = "bubblewrap"

    def __init__(self, binary: str = "bwrap"):
        self.binary = find(binary) or binary

    def available(self) -> str | None:
        """None when bwrap runs a sandbox here, else why not."""
        return _probe(self.binary)

    def limits_note(self) -> str:
        if find("prlimit") is None:
            return "prlimit is missing: memory and process limits are not set (install util-linux)"
        if os.geteuid() == 0 and _pids_cgroup_root() is None:
            return "as root without a writable pids cgroup the process limit is not enforced (wall time is)"
        return "memory per process by RLIMIT_DATA; processes by RLIMIT_NPROC" + (
            " and a pids cgroup (root)" if os.geteuid() == 0 else "")

    @contextlib.contextmanager
    def launch(self, command: str | list[str], cwd: Path, policy: Policy, ours: Mapping[str, str],
               set_for_command: Mapping[str, str]) -> Iterator[Launch]:
        """The argv that runs `command` in `cwd` under `policy`, and the environment it allows;
        cleans up the cgroup afterwards."""
        for path in policy.writable:
            path.mkdir(parents=True, exist_ok=True)
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        with tempfile.TemporaryDirectory(prefix="agentos-sandbox-") as scratch, \
                _pids_cgroup(policy.limits.processes) as procs_file:
            overlays = git_config_overlays(policy, Path(scratch))
            wrapped = [self.binary, *mounts(policy), *overlays, "--chdir", str(cwd), "--", *argv]
            yield _enter_cgroup(procs_file) + _prlimit(policy) + wrapped, policy.environment(ours, set_for_command)


def mounts(policy: Policy) -> list[str]:
    """bwrap's options for `policy`, in the order the mounts must be made."""
    args = ["--die-with-parent", "--new-session", "--unshare-all"] + (["--share-net"] if policy.network else [])
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", str(policy.home)]
    for path in policy.read_only:
        args += ["--ro-bind-try", str(path), str(path)]
    for path in policy.writable:
        args += ["--bind", str(path), str(path)]
    args += ["--bind", str(policy.worktree), str(policy.worktree)]
    for path in policy.read_only_inside:
        args += ["--ro-bind-try", str(path), str(path)]
    for path in policy.scratch_inside:
        args += ["--tmpfs", str(path)]
    return args


GIT_CONFIG_KEPT = {"core", "extensions"}
"""Sections of a repository's git config that git inside the sandbox needs to read the worktree;
the rest (remotes with credentials in their URLs, credential helpers, http headers) stays out."""


def git_config_overlays(policy: Policy, scratch: Path) -> list[str]:
    """bwrap options that show each bound git directory's `config` with only GIT_CONFIG_KEPT
    sections: a token in a remote URL or an `http.extraHeader` is not readable inside."""
    args: list[str] = []
    for n, path in enumerate(policy.read_only):
        config = path / "config"
        if (path / "HEAD").is_file() and config.is_file():
            clean = scratch / f"git-config-{n}"
            clean.write_text(kept_git_config(config.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
            args += ["--ro-bind", str(clean), str(config)]
    return args


def kept_git_config(text: str) -> str:
    """The lines of a git config file that belong to GIT_CONFIG_KEPT sections."""
    kept, keep = [], False
    for line in text.splitlines():
        header = re.match(r"\s*\[\s*([A-Za-z0-9.-]+)", line)
        if header:
            keep = header.group(1).split(".")[0].lower() in GIT_CONFIG_KEPT
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def find(program: str) -> str | None:
    """The program's path: on PATH, else in the system's own bin folders."""
    return shutil.which(program) or shutil.which(program, path=SYSTEM_PATH)


@functools.lru_cache(maxsize=8)
def _probe(binary: str) -> str | None:
    found = find(binary)
    if found is None:
        return f"{binary} is not installed"
    try:
        argv = [found, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "/bin/sh", "-c", ":"]
        run = run_bounded(argv, Path("/"), 30, head_chars=0, tail_chars=2000)
    except OSError as exc:
        return f"{found} could not run: {exc}"
    if run.exit_code != 0:
        said = run.tail.strip().splitlines()[-1:] or ["timed out" if run.timed_out else f"exit {run.exit_code}"]
        return f"{found} cannot make a sandbox here: {said[0]} (are user namespaces disabled?)"
    return None


def _prlimit(policy: Policy) -> list[str]:
    prlimit = find("prlimit")
    if prlimit is None:
        return []
    memory = policy.limits.memory_mb * 1024 * 1024
    return [prlimit, f"--data={memory}:{memory}", f"--nproc={policy.limits.processes}:{policy.limits.processes}",
            "--"]


def _enter_cgroup(procs_file: Path | None) -> list[str]:
    """A prefix that moves the command into the cgroup before anything else runs."""
    if procs_file is None:
        return []
    return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs_file)]


def _pids_cgroup_root() -> Path | None:
    for root in CGROUP_ROOTS:
        controllers = root / "cgroup.controllers"
        v1 = root.name == "pids" and (root / "tasks").exists()
        v2 = controllers.exists() and "pids" in controllers.read_text().split()
        if (v1 or v2) and os.access(root, os.W_OK):
            return root
    return None


@contextlib.contextmanager
def _pids_cgroup(limit: int) -> Iterator[Path | None]:
    """As root: a fresh pids cgroup with `pids.max` = limit (its cgroup.procs file), removed afterwards."""
    root = _pids_cgroup_root() if os.geteuid() == 0 else None
    group = root / f"agentos-{os.getpid()}-{next(_counter)}" if root else None
    try:
        if group is not None:
            group.mkdir()
            (group / "pids.max").write_text(f"{limit}\n")
    except OSError:
        group = None
    try:
        yield group / "cgroup.procs" if group else None
    finally:
        if group is not None:
            _remove_cgroup(group)


def _remove_cgroup(group: Path) -> None:
    """Kill what is left in the group (the runner has ended the sandbox already) and remove it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            group.rmdir()
            return
        time.sleep(0.02)
