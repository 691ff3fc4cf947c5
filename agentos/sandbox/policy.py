"""What a sandboxed command may see and do: files, environment, network and limits.

One `Policy` per kind of command that runs code from the worktree:

- `tests`: the test runs. The worktree read-write, but its `.venv` and `node_modules`
  read-only: they are hard-linked copies of the repository's ready-made environments (see
  venvs), so a test writing into them would change every worktree's copy. No network.
- `setup`: the test environment's set-up (uv, pip, npm, setup_command). The worktree, the
  venv and the repository's environment cache read-write; the network shared, to reach the
  package indexes.
- `agent`: an agent CLI as the implementer. The worktree read-write, the network shared (its
  model API), its own config read-only in the private HOME, its own key variables passed.

Every kind gets the system and the interpreter read-only, a private empty /tmp and HOME, and
the main checkout's git directory read-only (git inside the worktree needs it; agentos
commits from outside). Nothing else of the user's is there: no other file of HOME, no other
repository, not the repository's `.agentos/` state. The environment is an allowlist.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix/store")
"""Read-only in every sandbox, where they exist (a symlink such as /bin -> usr/bin stays one)."""
ENV_ALLOWED = ("PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "NO_COLOR", "FORCE_COLOR", "COLUMNS",
               "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "PYTEST_ADDOPTS", "CI")
"""Variables of agentos's environment a sandboxed command sees; `sandbox.env` adds names.
The entries agentos sets for the command itself (the venv's VIRTUAL_ENV and PATH, uv's
settings) are always passed."""
NETWORK_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
               "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
               "https_proxy", "all_proxy", "no_proxy", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
               "PIP_DEFAULT_TIMEOUT", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX",
               "npm_config_registry", "NPM_CONFIG_REGISTRY")
"""Where the network is shared (set-up, agent CLIs): how this machine reaches it — its CA
bundle (a TLS-inspecting proxy's, in many companies), proxies and package indexes. Test runs,
which have no network, never see them."""
READ_ONLY_IN_TESTS = (".venv", "node_modules")
TOOL_CACHES_IN_TESTS = ("node_modules/.cache",)
"""Where test tools write their caches inside those folders (nyc, babel, eslint): private and
empty for each run, like /tmp, so a test run can write there without touching the shared copy."""
RESOLVER = Path("/run/systemd/resolve")
"""Where /etc/resolv.conf points on systemd-resolved machines: read-only where the network is shared."""


Launch = tuple["list[str] | str", dict[str, str]]
"""What a backend starts: the command (wrapped) and its environment."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    """Per process: RLIMIT_DATA, the memory it may allocate (not RLIMIT_AS, which V8, Go and
    the JVM exceed by merely reserving address space)."""
    processes: int
    """Processes the command may have at once (RLIMIT_NPROC; as root also a pids cgroup)."""


@dataclass(frozen=True)
class Policy:
    """What one sandboxed command may see and do."""

    kind: str
    """tests, setup or agent."""
    worktree: Path
    limits: Limits
    network: bool = False
    network_reason: str = ""
    read_only: tuple[Path, ...] = ()
    """Besides the system: the interpreter, the main checkout's .git, a CLI's install and config."""
    writable: tuple[Path, ...] = ()
    """Besides the worktree: e.g. the environment cache during set-up, a report file's folder."""
    read_only_inside: tuple[Path, ...] = ()
    """Folders of the worktree that stay read-only (the venv during test runs)."""
    scratch_inside: tuple[Path, ...] = ()
    """Folders inside those that are private and empty for the run (tool caches)."""
    env_names: tuple[str, ...] = ENV_ALLOWED
    home: Path = field(default_factory=lambda: private_home())
    """Where the private, empty HOME is mounted (the user's path, so `~` still means HOME)."""

    def with_writable(self, *paths: Path) -> Policy:
        return replace(self, writable=(*self.writable, *paths))

    def environment(self, ours: Mapping[str, str], set_for_command: Mapping[str, str]) -> dict[str, str]:
        """The command's environment: the allowed names of `ours`, then what agentos set for it."""
        kept = {k: v for k, v in ours.items() if any(fnmatch.fnmatchcase(k, p) for p in self.env_names)}
        return {**kept, "HOME": str(self.home), "TMPDIR": "/tmp", **set_for_command}

    def describe(self) -> list[str]:
        """What this sandbox allows, in a few lines (doctor, --dry-run)."""
        ro = ", ".join(str(p) for p in self.read_only)
        lines = [f"{self.kind}: worktree read-write" + (
                     f" except {', '.join(p.name for p in self.read_only_inside)}" if self.read_only_inside else "")
                 + (f" (private: {', '.join(str(p.relative_to(self.worktree)) for p in self.scratch_inside)})"
                    if self.scratch_inside else ""),
                 f"  read-only: the system ({', '.join(d for d in SYSTEM_DIRS if os.path.exists(d))}), {ro}",
                 f"  private: /tmp, HOME ({self.home}, empty)",
                 "  network: " + (f"shared ({self.network_reason})" if self.network else "none"),
                 f"  limits: {self.limits.memory_mb} MB per process, {self.limits.processes} processes",
                 f"  environment: {', '.join(self.env_names)} and what agentos sets for the command"]
        if self.writable:
            lines.insert(1, f"  also read-write: {', '.join(str(p) for p in self.writable)}")
        return lines


def private_home() -> Path:
    """Where the private HOME is mounted: the user's own path, so `~` keeps its meaning; a path
    of its own when HOME is the root or unset."""
    home = Path(os.environ.get("HOME") or "/")
    return home if home != Path("/") and home.is_absolute() else Path("/home/sandbox")


def interpreter_paths() -> tuple[Path, ...]:
    """agentos's interpreter and its venv: a worktree's venv points at the one, the tests run
    on the other when the target has no venv, and uv lives in it."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent}
    return tuple(sorted(p for p in found if p != Path("/")))


def git_common_dir(worktree: Path) -> Path | None:
    """The main checkout's .git a linked worktree points into (what git in the worktree needs),
    read from the worktree's `.git` file and its `commondir`; None for a checkout of its own."""
    try:
        pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
    except OSError:  # a .git folder (inside the worktree, so bound with it) or none
        return None
    own = Path(pointer.removeprefix("gitdir:").strip())
    own = own if own.is_absolute() else worktree / own
    try:
        common = own / (own / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        common = own
    return Path(os.path.realpath(common))


def program_paths(binary: str) -> tuple[Path, ...]:
    """Where a program on PATH is installed: the folder holding both its link and what it links to
    (a CLI installed under HOME by npm or a version manager brings its runtime along)."""
    found = shutil.which(binary)
    if found is None:
        return ()
    link, real = Path(found).absolute(), Path(os.path.realpath(found))
    common = Path(os.path.commonpath([link.parent, real.parent]))
    if common in (Path("/"), Path.home()):
        return tuple(sorted({link.parent, real.parent}))
    return (common,)


def for_tests(worktree: Path, limits: Limits, env_names: Iterable[str] = ()) -> Policy:
    """A test run: no network, the venv read-only, nothing written outside the worktree."""
    inside = tuple(worktree / name for name in READ_ONLY_IN_TESTS if (worktree / name).is_dir())
    scratch = tuple(worktree / name for name in TOOL_CACHES_IN_TESTS if (worktree / name).parent.is_dir())
    for path in scratch:
        path.mkdir(exist_ok=True)  # the mount point: it cannot be made once its parent is read-only
    return Policy("tests", worktree, limits, read_only=_shared_read_only(worktree), read_only_inside=inside,
                  scratch_inside=scratch, env_names=(*ENV_ALLOWED, *env_names))


def for_setup(worktree: Path, limits: Limits, cache: Path, env_names: Iterable[str] = (),
              network: bool = True) -> Policy:
    """The test environment's set-up: the network for the package indexes (unless turned off),
    the cache writable."""
    reason = "set-up installs the declared dependencies from the package indexes" if network else ""
    return Policy("setup", worktree, limits, network=network, network_reason=reason,
                  read_only=(*_shared_read_only(worktree), *_resolver(network)), writable=(cache,),
                  env_names=(*ENV_ALLOWED, *(NETWORK_ENV if network else ()), *env_names))


def for_agent(worktree: Path, limits: Limits, binary: str, config_paths: Iterable[str], keys: Iterable[str],
              env_names: Iterable[str] = ()) -> Policy:
    """An agent CLI: the network for its model API, its install and its own config read-only."""
    home = private_home()
    config = tuple(home / p for p in config_paths if (home / p).exists())
    return Policy("agent", worktree, limits, network=True, network_reason="the agent CLI calls its model API",
                  read_only=(*_shared_read_only(worktree), *_resolver(True), *program_paths(binary), *config),
                  env_names=(*ENV_ALLOWED, *NETWORK_ENV, *keys, *env_names))


def _resolver(network: bool) -> tuple[Path, ...]:
    return (RESOLVER,) if network and RESOLVER.is_dir() else ()


def _shared_read_only(worktree: Path) -> tuple[Path, ...]:
    common = git_common_dir(worktree)
    return (*interpreter_paths(), *([common] if common else []))
