"""Choose the forge for a repository from config.

`forge: local` and `forge: github` are taken as said. `forge: auto` (the default) picks GitHub
when the remote is on a GitHub host (or a repo_slug is configured) and a token is found, and
otherwise the local forge, noting why so the progress view can say which forge is in use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from agentos.config import OrchestratorConfig
from agentos.errors import ConfigError, UsageError
from agentos.forge.base import Forge
from agentos.forge.remote import (PUBLIC_HOST, TOKEN_HINT, RemoteRef, RepoSlug, Token, api_url_for, find_token,
                                  hide_credentials, host_of_api, origin_url, parse_remote, parse_slug)
from agentos.paths import RepoLayout


@dataclass(frozen=True)
class GitHubTarget:
    """What the GitHub forge needs, resolved from config, the remote and the environment."""

    slug: RepoSlug | None
    host: str
    base_url: str
    token: Token | None
    why_not: str | None
    """When this is not usable: what is missing, in words for the user."""


def make_forge(config: OrchestratorConfig, layout: RepoLayout, env: Mapping[str, str] | None = None) -> Forge:
    from agentos.forge.local import LocalForge

    if config.forge == "local":
        return LocalForge(layout.root)
    target = github_target(config, layout, os.environ if env is None else env)
    if config.forge == "github":
        _require(target, config)
        return _github(config, layout, target)
    if target.why_not is None:
        return _github(config, layout, target)
    return LocalForge(layout.root, note=target.why_not)


def github_target(config: OrchestratorConfig, layout: RepoLayout, env: Mapping[str, str]) -> GitHubTarget:
    """Resolve repository, API root and token; `why_not` says what is missing, if anything."""
    gh = config.github
    url = origin_url(layout.root, gh.remote)
    remote = parse_remote(url) if url else None
    slug = parse_slug(gh.repo_slug) if gh.repo_slug else (remote.slug if remote else None)
    host = host_of_api(gh.base_url) if gh.base_url else (remote.host if remote else PUBLIC_HOST)
    base_url = gh.base_url or api_url_for(host)
    if slug is None or not _looks_like_github(remote, host, gh.base_url, gh.repo_slug):
        why = (f"remote {gh.remote!r} ({hide_credentials(url)}) is not a GitHub repository" if url
               else f"no remote {gh.remote!r}")
        return GitHubTarget(slug, host, base_url, None, why)
    token = find_token(host, env)
    why = None if token else f"{gh.remote} is {host}/{slug} but no token was found ({TOKEN_HINT})"
    return GitHubTarget(slug, host, base_url, token, why)


def _looks_like_github(remote: RemoteRef | None, host: str, base_url: str | None, repo_slug: str | None) -> bool:
    """A github.com remote, one on the configured Enterprise host, or an explicit repo_slug."""
    if repo_slug:
        return True
    return remote is not None and (remote.host == PUBLIC_HOST or (base_url is not None and remote.host == host))


def _require(target: GitHubTarget, config: OrchestratorConfig) -> None:
    """`forge: github` was asked for: say exactly what is missing."""
    if target.slug is None:
        raise ConfigError(f"forge is github but the repository is unknown: {target.why_not}",
                          "pass --repo-slug owner/name or set orchestrator.github.repo_slug")
    if target.token is None:
        raise UsageError(f"no GitHub token for {target.host}: GITHUB_TOKEN and GH_TOKEN are unset and "
                         "`gh auth token` gave none", TOKEN_HINT)


def _github(config: OrchestratorConfig, layout: RepoLayout, target: GitHubTarget) -> Forge:
    from agentos.forge.github import GitHubForge

    gh = config.github
    return GitHubForge(layout.root, target.slug, target.token, base_url=target.base_url, remote=gh.remote,
                       host=target.host, retries=gh.retries, rate_limit_wait_s=gh.rate_limit_wait_s)
