"""The GitHub API transport: one githubkit client, the one place that retries, and the
mapping of GitHub's refusals to typed errors with a hint.

Requests pin REST API version 2022-11-28, which github.com and GitHub Enterprise Server both
serve.

Retrying lives here and nowhere else (githubkit's own is switched off): network errors and
5xx answers are retried with back-off; the primary rate limit is waited out when it resets
soon, otherwise the run stops saying when it resets; the secondary rate limit is waited out
for as long as GitHub's retry-after says. Whatever still fails becomes a typed error with a
hint, and the run keeps its checkpoint.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
from githubkit import GitHub
from githubkit.exception import PrimaryRateLimitExceeded, RequestError, RequestFailed, SecondaryRateLimitExceeded

from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.base import ForgeUnavailableError
from agentos.forge.remote import TOKEN_HINT, RepoSlug, Token

API_VERSION = "2022-11-28"
HEADERS = {"X-GitHub-Api-Version": API_VERSION}
SECONDARY_DEFAULT_WAIT_S = 60

log = logging.getLogger("agentos.forge.github")


class SharedTransport(httpx.BaseTransport):
    """One connection pool for the forge's lifetime.

    githubkit opens and closes an httpx client per request; without this each request would
    build a TLS context and connect anew (17 ms per request on loopback, plus a handshake per
    request to a real server). Closing a client must therefore not close this pool.
    """

    def __init__(self) -> None:
        self._pool = httpx.HTTPTransport(trust_env=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool.handle_request(request)

    def close(self) -> None:
        """Kept open on purpose: the next request reuses its connections."""


class GitHubApi:
    """Requests to one repository's GitHub API: sent, retried, and refusals explained.

    `rest` and `graphql` are githubkit's; a caller builds a request with them as a callable
    and hands it to `call`, `on_issue` or `on_pr`, which send it.
    """

    def __init__(self, slug: RepoSlug, token: Token, *, base_url: str, retries: int = 3,
                 rate_limit_wait_s: float = 300, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, transport: Any = None):
        self.slug, self.token, self.base_url = slug, token, base_url
        self.retries, self.rate_limit_wait_s = retries, rate_limit_wait_s
        self.sleep, self.clock = sleep, clock
        self.client = GitHub(token.value, base_url=base_url, auto_retry=False, http_cache=False, timeout=30.0,
                             user_agent="agentos", transport=transport or SharedTransport())
        """Kept here: githubkit's namespaces below hold only a weak reference to it."""
        self.rest, self.graphql = self.client.rest, self.client.graphql
        self.repo = (slug.owner, slug.name)
        """The owner and name arguments every repository request starts with."""

    def call(self, what: str, request: Callable[[], Any]) -> Any:
        """Send one request; the one place that retries (see the module docstring)."""
        waited_for_reset = False
        for attempt in itertools.count(1):
            try:
                return request()
            except PrimaryRateLimitExceeded as exc:
                wait = self._primary_wait(exc, what, waited_for_reset)
                waited_for_reset = True
            except SecondaryRateLimitExceeded as exc:
                wait = self._secondary_wait(exc, what, attempt)
            except RequestFailed as exc:
                if exc.response.status_code == 401:
                    raise UsageError(f"GitHub rejected the token from {self.token.source} while trying to {what} "
                                     f"(401 {_message(exc)}): it is wrong, expired or revoked", TOKEN_HINT) from None
                if exc.response.status_code < 500:
                    raise
                wait = self._backoff(what, f"HTTP {exc.response.status_code}", attempt)
            except RequestError as exc:
                wait = self._backoff(what, _network_problem(exc), attempt)
            log.warning("GitHub: could not %s (attempt %d); retrying in %.0fs", what, attempt, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def on_issue(self, number: int, what: str, request: Callable[[], Any]) -> Any:
        """The JSON answer to a request about one issue: 404/410 mean there is no such issue."""
        _check_number(number)
        try:
            return self.call(what, request).json()
        except RequestFailed as exc:
            if exc.response.status_code in (404, 410):
                raise UnknownIssueError(
                    f"issue #{number} not found in {self.slug}" + (" (deleted)" if exc.response.status_code == 410
                                                                   else ""),
                    f"check the number on the repository's issue list, and that the token from "
                    f"{self.token.source} can read {self.slug}") from None
            raise self.refused(exc, what) from None

    def on_pr(self, number: int, verb: str, request: Callable[[], Any]) -> dict[str, Any]:
        """The JSON answer to a request about one pull request: 404 means there is none."""
        _check_number(number)
        try:
            return self.call(f"{verb} pull request #{number}", request).json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                raise UsageError(f"pull request #{number} not found in {self.slug}",
                                 "check the number on the repository's pull request list") from None
            raise self.refused(exc, f"{verb} pull request #{number}") from None

    def refused(self, exc: RequestFailed, what: str) -> UsageError:
        """GitHub's refusal to `what`, with a hint at what to change."""
        status = exc.response.status_code
        message = _message(exc)
        if status == 403:
            hint = (f"the token from {self.token.source} needs write access to {self.slug} (fine-grained tokens: "
                    "Contents, Issues and Pull requests: read and write)")
        elif "draft" in message.lower():
            hint = "this repository does not take draft pull requests: set orchestrator.pr_draft: false"
        else:
            hint = "see GitHub's message; fix that, then run the same command again"
        return UsageError(f"GitHub refused to {what}: {status} {message}", hint)

    def _primary_wait(self, exc: RequestFailed, what: str, waited: bool) -> float:
        """Seconds until the rate limit resets, when that is soon enough; else stop."""
        reset = _int_header(exc, "x-ratelimit-reset")
        wait = max(0.0, reset - self.clock()) + 1 if reset is not None else float(SECONDARY_DEFAULT_WAIT_S)
        if waited or wait > self.rate_limit_wait_s:
            at = (datetime.fromtimestamp(reset, timezone.utc).strftime("%H:%M:%S UTC") if reset is not None
                  else "an unknown time")
            raise ForgeUnavailableError(
                f"GitHub API rate limit used up while trying to {what}; it resets at {at} (in {wait / 60:.0f} min)",
                "run the same command again after that: the run continues where it stopped "
                "(orchestrator.github.rate_limit_wait_s sets how long agentos waits by itself)")
        return wait

    def _secondary_wait(self, exc: RequestFailed, what: str, attempt: int) -> float:
        """As long as GitHub's retry-after says, a bounded number of times."""
        wait = float(_int_header(exc, "retry-after") or SECONDARY_DEFAULT_WAIT_S)
        if attempt > self.retries or wait > self.rate_limit_wait_s:
            raise ForgeUnavailableError(
                f"GitHub's secondary rate limit stopped the request to {what} (retry after {wait:.0f}s, "
                f"{attempt} attempt(s))", "wait a few minutes, then run the same command again: the run "
                "continues where it stopped")
        return wait

    def _backoff(self, what: str, problem: str, attempt: int) -> float:
        if attempt > self.retries:
            raise ForgeUnavailableError(
                f"could not {what} at {self.base_url}: {problem} (after {attempt} attempts)",
                "check the network and orchestrator.github.base_url, then run the same command again: "
                "the run continues where it stopped")
        return float(2 ** (attempt - 1))


def _check_number(number: Any) -> None:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise UsageError(f"{number!r} is not an issue or pull request number", "pass a positive integer")


def _message(exc: RequestFailed) -> str:
    """GitHub's error message, with the details of a 422 validation failure."""
    try:
        data = exc.response.json()
    except ValueError:
        return exc.response.reason_phrase or ""
    if not isinstance(data, dict):
        return str(data)[:200]
    details = [e.get("message") or e.get("code", "") for e in data.get("errors") or [] if isinstance(e, dict)]
    return "; ".join(filter(None, [str(data.get("message") or ""), *map(str, details)]))


def _int_header(exc: RequestFailed, name: str) -> int | None:
    value = exc.response.headers.get(name)
    return int(value) if value and value.strip().isdigit() else None


def _network_problem(exc: RequestError) -> str:
    inner = getattr(exc, "exc", None)
    return f"{type(inner).__name__}: {inner}" if inner is not None else type(exc).__name__
