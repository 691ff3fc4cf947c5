"""The sandbox every command that runs code from the worktree goes through.

`from_config` picks the backend the configuration asks for (auto: bubblewrap when it works
here; else a run refuses, naming the fix and the opt-out), and `Sandbox.tests/setup/agent`
give the `Confinement` that `process.run_bounded` runs a command in. The policies are in
policy.py, the backends in bubblewrap.py and off.py. Landlock is not a backend: the one
Python binding on PyPI is a development release, and Landlock confines files only (not
the environment, the network of older kernels, or process counts).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agentos.errors import UsageError
from agentos.sandbox import policy as policies
from agentos.sandbox.bubblewrap import Bubblewrap
from agentos.sandbox.off import WARNING, Off
from agentos.sandbox.policy import Launch, Limits, Policy

INSTALL = "install bubblewrap (`apt-get install bubblewrap` or `dnf install bubblewrap`)"
OPT_OUT = "or set `sandbox: off` in .agentos/config.yaml to run model-written code unconfined"


class SandboxUnavailable(UsageError):
    """A run would execute model-written code, and no sandbox can run here (exit 2)."""


class Backend(Protocol):
    name: str

    def available(self) -> str | None: ...

    def limits_note(self) -> str: ...

    def launch(self, command: str | list[str], cwd: Path, policy: Policy, ours: Mapping[str, str],
               set_for_command: Mapping[str, str]) -> contextlib.AbstractContextManager[Launch]: ...


@dataclass(frozen=True)
class Confinement:
    """One command's sandbox: a backend and the policy it enforces."""

    backend: Backend
    policy: Policy

    def also_writable(self, path: Path) -> Confinement:
        """The same sandbox with `path` writable too (e.g. the folder a report is written to)."""
        return Confinement(self.backend, self.policy.with_writable(path))

    def launch(self, command: str | list[str], cwd: Path, ours: Mapping[str, str],
               set_for_command: Mapping[str, str]) -> contextlib.AbstractContextManager[Launch]:
        """(command, environment) to start it with, from our environment and what agentos set
        for it; the backend cleans up after it."""
        return self.backend.launch(command, cwd, self.policy, ours, set_for_command)


@dataclass(frozen=True)
class Sandbox:
    """The configured backend, with the limits and extra variables every policy gets."""

    backend: Backend
    limits: Limits
    env_names: tuple[str, ...] = ()
    setup_network: bool = True

    @property
    def off(self) -> bool:
        return isinstance(self.backend, Off)

    def tests(self, worktree: Path) -> Confinement:
        return Confinement(self.backend, policies.for_tests(worktree, self.limits, self.env_names))

    def setup(self, worktree: Path, cache: Path) -> Confinement:
        return Confinement(self.backend, policies.for_setup(worktree, self.limits, cache, self.env_names,
                                                            self.setup_network))

    def agent(self, worktree: Path, binary: str, config_paths: tuple[str, ...], keys: tuple[str, ...]) -> Confinement:
        return Confinement(self.backend, policies.for_agent(worktree, self.limits, binary, config_paths, keys,
                                                            self.env_names))

    def summary(self) -> str:
        """One line: the backend in use, or the opt-out's warning."""
        if self.off:
            return WARNING
        return f"sandbox: {self.backend.name} ({self.backend.limits_note()})"

    def describe(self, worktree: Path) -> list[str]:
        """The backend and what each kind of command may do (doctor, --dry-run)."""
        if self.off:
            return [WARNING]
        lines = [self.summary()]
        cache = Path("<repository>/.agentos/cache/testenv")
        for policy in (self.tests(worktree).policy, self.setup(worktree, cache).policy):
            lines += [f"  {line}" for line in policy.describe()]
        return lines + ["  agent: an agent CLI as implementer, as the tests but the network shared (its model API), "
                        "its own config read-only in HOME and its own key variables (llm/clis.py)"]


REFUSALS = (
    (r"Read-only file system|EROFS", "a write outside the worktree (or into its venv)"),
    (r"Permission denied|EACCES|Operation not permitted|EPERM", "an access the sandbox does not allow"),
    (r"Network is unreachable|ENETUNREACH|Connection refused|ECONNREFUSED|Temporary failure in name resolution"
     r"|Name or service not known|getaddrinfo", "a network connection (test runs have no network)"),
    (r"Resource temporarily unavailable|BlockingIOError|fork: retry|EAGAIN", "more processes than the limit"),
    (r"MemoryError|Cannot allocate memory|ENOMEM|std::bad_alloc", "more memory than the limit"),
)


def refusal_note(output: str, confine: Confinement) -> str | None:
    """What the sandbox most likely refused in this output, said to the implementer; None if nothing."""
    if isinstance(confine.backend, Off):
        return None
    seen = [what for pattern, what in REFUSALS if re.search(pattern, output)]
    if not seen:
        return None
    p = confine.policy
    return (f"[sandbox] The tests ran in a sandbox, and the output shows it refused: {'; '.join(seen)}. "
            f"Inside it: the worktree is writable ({', '.join(x.name for x in p.read_only_inside) or 'all of it'}"
            f"{' read-only' if p.read_only_inside else ''}), /tmp and HOME are private and empty, there is no "
            f"network, only allowed environment variables are set, each process may allocate "
            f"{p.limits.memory_mb} MB and at most {p.limits.processes} processes run. Tests must not depend on "
            "anything outside the worktree.")


def from_config(cfg) -> Sandbox:
    """The sandbox `cfg` (a config.SandboxConfig) asks for; SandboxUnavailable when it cannot run here."""
    limits = Limits(cfg.memory_mb, cfg.processes)
    if cfg.backend == "off":
        return Sandbox(Off(), limits, tuple(cfg.env))
    backend = Bubblewrap(cfg.bwrap)
    if why := backend.available():
        raise SandboxUnavailable(f"no sandbox to run model-written code in: {why}", f"{INSTALL}, {OPT_OUT}")
    return Sandbox(backend, limits, tuple(cfg.env), cfg.setup_network)


def report(cfg, worktree: Path) -> list[str]:
    """For doctor and --dry-run, without raising: the backend in use and what it allows, or
    that none can run here and what a run would do."""
    try:
        sandbox = from_config(cfg)
    except SandboxUnavailable as exc:
        return [f"sandbox: none available ({exc.message}); a run would refuse (exit 2): {exc.hint}"]
    return sandbox.describe(worktree)


def unconfined() -> Sandbox:
    """No confinement: for commands that run none of the model's code."""
    return Sandbox(Off(), Limits(0, 0))


__all__ = ["Confinement", "Sandbox", "SandboxUnavailable", "from_config", "refusal_note", "report", "unconfined"]
