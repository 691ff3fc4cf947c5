"""Where a repository lives on GitHub, the token to reach it, and git talking to that remote.

- `parse_remote(url)`: host and owner/name from a remote URL, HTTPS or SSH form.
- `find_token(host, env)`: GITHUB_TOKEN, then GH_TOKEN, then `gh auth token` when gh is installed.
- `GitRemote`: `git ls-remote` and `git push` with the token handed to git by a credential
  helper defined in the child's environment: never in the URL, the command line or a message.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agentos.errors import AgentosError, ConfigError, UsageError
from agentos.forge.base import ForgeUnavailableError
from agentos.process import run_bounded
from agentos.repo.git import Git

if TYPE_CHECKING:
    from subprocess import CompletedProcess

TOKEN_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
TOKEN_HINT = "export GITHUB_TOKEN=<a token with write access to the repository> (or GH_TOKEN), or run `gh auth login`"
PUBLIC_HOST = "github.com"
PUBLIC_API = "https://api.github.com"

_SLUG = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})")
_SCP_FORM = re.compile(r"(?:[^@/\s]+@)?([^:/\s]+):/?([^\s]+)")
_URL_SCHEMES = {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}
_TRANSIENT = re.compile(
    r"could not resolve host|connection (timed out|refused|reset)|failed to connect|early eof|"
    r"rpc failed|remote end hung up|operation timed out|returned error: 5\d\d|http 5\d\d|"
    r"gnutls|ssl_read|ssl_connect|temporary failure", re.IGNORECASE)
_AUTH = re.compile(r"authentication failed|could not read (username|password)|permission to .* denied|"
                   r"returned error: 40[13]|permission denied \(publickey\)|invalid username or password",
                   re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class AccessDenied(UsageError):
    """The remote refused the token (or the SSH key): not authenticated, or not allowed to do this."""

    def __init__(self, message: str, hint: str, said: str):
        super().__init__(message, hint)
        self.said = said
        """What the remote said, the token scrubbed out."""


@dataclass(frozen=True)
class RepoSlug:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RemoteRef:
    """A remote URL that names a repository on a GitHub-like host."""

    host: str
    slug: RepoSlug


@dataclass(frozen=True)
class Token:
    """A GitHub token and where it came from; the value never appears in repr or messages."""

    value: str = field(repr=False)
    source: str


def parse_slug(text: str, where: str = "github.repo_slug") -> RepoSlug:
    """`owner/name` (a trailing `.git` is allowed) or a ConfigError saying what is expected."""
    match = _SLUG.fullmatch(text.strip().removesuffix(".git")) if isinstance(text, str) else None
    if not match:
        raise ConfigError(f"{where} {text!r} is not a GitHub repository name",
                          "write it as owner/name, e.g. --repo-slug acme/widgets")
    return RepoSlug(match.group(1), match.group(2))


def parse_remote(url: str) -> RemoteRef | None:
    """Host and owner/name of an HTTPS, ssh:// or scp-like (`git@host:owner/name.git`) URL.

    None for anything else (a path, file://, a URL whose path is not exactly owner/name).
    """
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in _URL_SCHEMES or not parts.hostname:
            return None
        host = parts.hostname.lower()
        host += f":{parts.port}" if parts.port and parts.scheme.lower() in ("https", "http") else ""
        path = parts.path
    else:
        match = _SCP_FORM.fullmatch(url)
        if not match or url.startswith(("/", ".")) or len(match.group(1)) < 2:  # C:/x is a Windows path
            return None
        host, path = match.group(1).lower(), match.group(2)
    slug = _SLUG.fullmatch(path.strip("/").removesuffix(".git"))
    return RemoteRef(host, RepoSlug(slug.group(1), slug.group(2))) if slug else None


def hide_credentials(text: str) -> str:
    """`text` with any `user:password@` in URLs replaced by `***@`."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def api_url_for(host: str) -> str:
    """The REST API root of a GitHub host: api.github.com, or /api/v3 on GitHub Enterprise."""
    return PUBLIC_API if host == PUBLIC_HOST else f"https://{host}/api/v3"


def host_of_api(base_url: str) -> str:
    """The web host an API root belongs to (api.github.com → github.com)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "api.github.com":
        return PUBLIC_HOST
    return f"{host}:{parts.port}" if parts.port else host


def find_token(host: str, env: Mapping[str, str]) -> Token | None:
    """The first token found: GITHUB_TOKEN, GH_TOKEN, then `gh auth token` for `host`."""
    for var in TOKEN_VARS:
        if (env.get(var) or "").strip():
            return Token(env[var].strip(), var)
    gh = shutil.which("gh", path=env.get("PATH"))
    if not gh:
        return None
    args = [gh, "auth", "token"] + ([] if host == PUBLIC_HOST else ["--hostname", host])
    try:
        run = run_bounded(args, Path.cwd(), 15, head_chars=4000, tail_chars=4000, base_env=env, stdin="",
                          stderr_apart=True)
    except OSError:
        return None
    value = run.clipped(4000).strip() if run.exit_code == 0 and not run.timed_out else ""
    return Token(value, "`gh auth token`") if value else None


def origin_url(repo_root: Path, remote: str) -> str | None:
    """The fetch URL of `remote` in the repository, or None when there is no such remote."""
    proc = Git(repo_root).call("remote", "get-url", remote)
    url = proc.stdout.strip() if proc.returncode == 0 else ""
    return url or None


class GitRemote:
    """git commands that talk to one remote, with the token supplied by a credential helper.

    The helper answers only for the GitHub host, so the token is never offered to another
    server. Transient network failures are retried here (this is the one retry layer for git);
    everything else becomes an error that says what to do, with the token scrubbed out.
    """

    def __init__(self, repo_root: Path, remote: str, host: str, token: Token | None, *,
                 attempts: int = 3, sleep: Callable[[float], None] = time.sleep, timeout_s: float = 600):
        self.root, self.remote, self.host, self.token = Path(repo_root), remote, host, token
        self.attempts, self.sleep, self.timeout_s = attempts, sleep, timeout_s
        self.local = Git(self.root)

    def head_of(self, branch: str) -> str | None:
        """The sha of `branch` on the remote, or None when the remote has no such branch."""
        out = self._git(["ls-remote", "--heads", self.remote, f"refs/heads/{branch}"], f"read {branch} on {self.remote}")
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.strip() == f"refs/heads/{branch}":
                return sha.strip()
        return None

    def push(self, branch: str) -> None:
        """Fast-forward `branch` on the remote to the local branch (never a force push)."""
        self._git(["push", "--porcelain", self.remote, f"refs/heads/{branch}:refs/heads/{branch}"],
                  f"push {branch} to {self.remote}")

    def check_push_access(self, branch: str) -> None:
        """A dry-run push of `branch` (of HEAD while it does not exist yet): the remote checks that
        the token may write, and nothing is sent. AccessDenied when it may not."""
        source = f"refs/heads/{branch}" if self.local.rev_parse(f"refs/heads/{branch}") else "HEAD"
        self._git(["push", "--dry-run", "--porcelain", self.remote, f"{source}:refs/heads/{branch}"],
                  f"push to {self.remote} (a dry run)")

    def clone_or_update(self, dest: Path) -> None:
        """`dest` as a clone of this remote (a URL here), brought up to date: its branches as the
        remote's `origin/*`, and its checkout at the remote's default branch (`dest` is a cache of ours)."""
        if not (dest / ".git").exists():
            self._git(["clone", "--quiet", self.remote, str(dest)], f"clone {hide_credentials(self.remote)}")
            return
        here = GitRemote(dest, "origin", self.host, self.token, attempts=self.attempts, sleep=self.sleep)
        here._git(["fetch", "--quiet", "--prune", "origin"], "fetch origin")
        here._git(["remote", "set-head", "origin", "--auto"], "read origin's default branch")
        here._git(["reset", "--quiet", "--hard", "origin/HEAD"], "update the cached checkout")

    def fetch(self, branch: str) -> None:
        """Bring `branch` from the remote as `<remote>/<branch>`, when the remote has it."""
        if self.head_of(branch) is not None:
            self._git(["fetch", "--quiet", self.remote, f"+refs/heads/{branch}:refs/remotes/{self.remote}/{branch}"],
                      f"fetch {branch} from {self.remote}")

    def check_branch(self, branch: str) -> None:
        """Refuse when the remote branch has commits the local one does not contain."""
        remote_sha = self.head_of(branch)
        if remote_sha is None:
            return
        local_sha = self.local.rev_parse(f"refs/heads/{branch}")
        if local_sha and (remote_sha == local_sha or self._is_ancestor(remote_sha, local_sha)):
            return
        what = ("this repository has no branch of that name" if not local_sha
                else "it has commits the local branch does not contain")
        raise UsageError(
            f"{self.remote} already has a branch {branch!r} and {what}; refusing to overwrite it",
            f"if it is an earlier agentos run from another clone: `git fetch {self.remote} {branch}:{branch}`; "
            f"otherwise delete it (`git push {self.remote} --delete {branch}`) or set orchestrator.branch_prefix")

    def _is_ancestor(self, old: str, new: str) -> bool:
        known = self.local.ok("cat-file", "-e", f"{old}^{{commit}}")
        return known and self.local.ok("merge-base", "--is-ancestor", old, new)

    def _git(self, args: list[str], what: str) -> str:
        """Run a remote git command; retry transient network failures; explain the rest."""
        for attempt in range(1, self.attempts + 1):
            proc = self._run(args)
            if proc.returncode == 0:
                return proc.stdout
            error = self.scrub(proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}")
            if not _TRANSIENT.search(error) or attempt == self.attempts:
                raise self._explain(what, error, transient=bool(_TRANSIENT.search(error)))
            self.sleep(2.0 * attempt)
        raise AssertionError("unreachable")

    def _run(self, args: list[str]) -> CompletedProcess[str]:
        return Git(self.root, env=self._env(), timeout_s=self.timeout_s).call(*args)

    def _env(self) -> dict[str, str]:
        """The environment for git: no prompts, and our helper after clearing inherited ones."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        if self.token is None:
            return env
        n = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        helper = ('!f() { test "$1" = get || return 0; h=; while IFS= read -r l; do case "$l" in '
                  'host=*) h="${l#host=}";; esac; done; test "$h" = "$AGENTOS_GIT_HOST" && '
                  "printf 'username=x-access-token\\npassword=%s\\n' \"$AGENTOS_GIT_TOKEN\"; }; f")
        env.update({"GIT_CONFIG_COUNT": str(n + 2),
                    f"GIT_CONFIG_KEY_{n}": "credential.helper", f"GIT_CONFIG_VALUE_{n}": "",
                    f"GIT_CONFIG_KEY_{n + 1}": "credential.helper", f"GIT_CONFIG_VALUE_{n + 1}": helper,
                    "AGENTOS_GIT_HOST": self.host, "AGENTOS_GIT_TOKEN": self.token.value})
        return env

    def scrub(self, text: str) -> str:
        """`text` without the token or credentials embedded in URLs."""
        if self.token is not None and self.token.value:
            text = text.replace(self.token.value, "***")
        return hide_credentials(text)

    def _explain(self, what: str, error: str, transient: bool) -> AgentosError:
        last = "\n".join(error.splitlines()[-4:])
        if transient:
            return ForgeUnavailableError(f"could not {what} after {self.attempts} attempts: {last}",
                                "check the network connection, then run the same command again; "
                                "the run continues where it stopped")
        if _AUTH.search(error):
            source = f"the token from {self.token.source}" if self.token else "no token (none was found)"
            return AccessDenied(f"git could not authenticate to {what} ({source}): {last}", TOKEN_HINT, last)
        if "rejected" in error or "non-fast-forward" in error or "fetch first" in error:
            return UsageError(f"{self.remote} refused to {what}: the remote branch has commits the local one lacks",
                              f"delete the remote branch (`git push {self.remote} --delete …`) or merge its commits, "
                              "then run the same command again")
        return UsageError(f"could not {what}: {last}", f"check that the remote {self.remote!r} exists and is reachable")
