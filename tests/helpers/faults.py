"""Run `orchestrate` as a real process and make it die at a chosen point, deterministically.

`run(repo, fault="agentos.files:write_atomic:before:3")` starts `python -m agentos.cli.orchestrate`
in a session of its own, with tests/helpers/faultinject/ on PYTHONPATH: its sitecustomize
wraps the named function so the process kills (or interrupts) itself at that call. See that
file for the spec. `git_filter_fault` does the same from inside git: a filter that signals
the whole process group while git writes a file into a checkout or reads one into the index.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INJECT = Path(__file__).parent / "faultinject"


@dataclass
class Ended:
    """How one orchestrate process ended."""

    code: int
    output: str
    fired: bool
    """Whether the fault happened (a spec that never matched must not pass a test quietly)."""


def command(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(repo), "--plain",
            "--no-input", *args]


def environment(fault: str | None, fired: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOS_TEST_FAULT")}
    env["PYTHONPATH"] = os.pathsep.join([str(INJECT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["AGENTOS_TEST_FAULT_FIRED"] = str(fired)
    if fault:
        env["AGENTOS_TEST_FAULT"] = fault
    return {**env, **(extra or {})}


def start(repo: Path, fault: str | None = None, *args: str, extra_env: dict[str, str] | None = None,
          fired: Path | None = None) -> subprocess.Popen:
    """orchestrate for issue 1 of `repo`, in a session of its own, its output on a pipe."""
    fired = fired or repo.parent / "fault-fired.log"
    return subprocess.Popen(command(repo, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=environment(fault, fired, extra_env), start_new_session=True)


def run(repo: Path, fault: str | None = None, *args: str, extra_env: dict[str, str] | None = None,
        timeout: float = 180) -> Ended:
    """Run orchestrate once (until it ends or kills itself); what it did, and whether the fault fired."""
    fired = repo.parent / "fault-fired.log"
    fired.unlink(missing_ok=True)
    proc = start(repo, fault, *args, extra_env=extra_env, fired=fired)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        end_group(proc.pid)
    return Ended(proc.returncode, out, fired.exists())


def end_group(pgid: int) -> None:
    """SIGKILL whatever is left in a process group the test started (after it was checked)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def git_filter_fault(repo: Path, path: str, action: str, when: str = "smudge") -> dict[str, str]:
    """Environment for one orchestrate run: while git writes `path` into a checkout (`smudge`) or
    reads it into the index (`clean`, as `git add` does, holding index.lock), a filter sends
    `action` ("KILL" or "INT") to the whole process group, as a kill of the process tree or a
    Ctrl-C at the terminal would. The attribute goes in the repository's info/attributes (shared
    by its worktrees); without this environment the filter is not defined and git ignores it."""
    attributes = Path(subprocess.run(["git", "rev-parse", "--git-common-dir"], cwd=repo, check=True,
                                     capture_output=True, text=True).stdout.strip())
    attributes = (attributes if attributes.is_absolute() else repo / attributes) / "info" / "attributes"
    attributes.parent.mkdir(parents=True, exist_ok=True)
    attributes.write_text(f"/{path} filter=agentosfault\n")
    fired = repo.parent / "fault-fired.log"
    script = (f"import os, signal, sys; open({str(fired)!r}, 'a').write('git filter\\n'); "
              f"os.killpg(os.getpgid(0), signal.SIG{action}); sys.stdout.write(sys.stdin.read())")
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"filter.agentosfault.{when}",
            "GIT_CONFIG_VALUE_0": f"{sys.executable} -c \"{script}\""}
