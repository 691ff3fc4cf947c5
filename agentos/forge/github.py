"""GitHub as a forge, through githubkit: REST for issues, comments, labels and pull requests,
GraphQL only to mark a pull request draft or ready (REST cannot), git for the push.

Answers are read as plain JSON, only the fields we use, so GitHub Enterprise versions that
differ elsewhere still work; requests pin REST API version 2022-11-28, which github.com and
GitHub Enterprise Server both serve.

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
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from githubkit import GitHub
from githubkit.exception import (GraphQLFailed, PrimaryRateLimitExceeded, RequestError, RequestFailed,
                                 SecondaryRateLimitExceeded)

from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.base import Comment, ForgeUnavailableError, Issue, PullRequest
from agentos.forge.remote import TOKEN_HINT, GitRemote, RepoSlug, Token, host_of_api
from agentos.redact import remember

API_VERSION = "2022-11-28"
HEADERS = {"X-GitHub-Api-Version": API_VERSION}
PER_PAGE = 100
MAX_PAGES = 50
SECONDARY_DEFAULT_WAIT_S = 60
MARK_DRAFT = ("mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) "
              "{ pullRequest { isDraft } } }")
MARK_READY = ("mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
              "{ pullRequest { isDraft } } }")

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


class GitHubForge:
    """Issues and pull requests of one GitHub (or GitHub Enterprise) repository."""

    name = "github"

    def __init__(self, repo_root: Path, slug: RepoSlug, token: Token, *, base_url: str, remote: str = "origin",
                 host: str | None = None, retries: int = 3, rate_limit_wait_s: float = 300,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 transport: Any = None):
        self.slug, self.token, self.base_url = slug, token, base_url
        remember({"GH_CLI_TOKEN": token.value})  # redacted everywhere, also when it came from `gh auth token`
        self.retries, self.rate_limit_wait_s = retries, rate_limit_wait_s
        self.sleep, self.clock = sleep, clock
        self.api = GitHub(token.value, base_url=base_url, auto_retry=False, http_cache=False, timeout=30.0,
                          user_agent="agentos", transport=transport or SharedTransport())
        self.git = GitRemote(repo_root, remote, host or host_of_api(base_url), token, sleep=sleep)
        self.summary = f"github {slug} (token from {token.source})"
        self._repo_data: dict[str, Any] | None = None
        self._marked: dict[tuple[int, str], Comment] = {}
        """(issue, marker) → the comment carrying that marker, as last written."""

    # ----------------------------------------------------------------- issues

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; a pull request's number is refused as not an issue."""
        data = self._on_issue(number, f"read issue #{number}",
                              lambda: self.api.rest.issues.get(*self._repo_args, number, headers=HEADERS))
        if data.get("pull_request"):
            raise UnknownIssueError(f"#{number} is a pull request in {self.slug}, not an issue",
                                    "pass the number of the issue itself (the one the pull request is for)")
        comments = self._comments(number) if data.get("comments", 1) else []
        return Issue(number=number, title=data.get("title") or "", body=_text(data.get("body")),
                     labels=[label["name"] for label in data.get("labels") or []],
                     state="closed" if data.get("state") == "closed" else "open",
                     comments=comments, url=data.get("html_url"))

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it: one comment per marker, ever."""
        if not isinstance(marker, str) or not marker.strip():
            raise UsageError("upsert_comment needs a non-empty marker",
                             "pass a unique string such as '<!-- agentos:plan -->'")
        body = body if marker in body else f"{marker}\n{body}"
        known = self._marked.get((issue, marker))
        if known is not None and known.body == body:
            return known
        if known is not None:  # found or made earlier by this forge: edit it without listing again
            try:
                return self._remember(issue, marker, self._edit_comment(issue, known.id, body))
            except UnknownIssueError:  # the comment was deleted meanwhile
                del self._marked[(issue, marker)]
        comment = next((c for c in self._comments(issue) if marker in c.body), None)
        if comment is not None and comment.body != body:
            comment = self._edit_comment(issue, comment.id, body)
        if comment is None:
            comment = _comment(self._on_issue(issue, f"comment on #{issue}", lambda: self.api.rest.issues.
                                              create_comment(*self._repo_args, issue, headers=HEADERS,
                                                             data={"body": body})))
        return self._remember(issue, marker, comment)

    def _remember(self, issue: int, marker: str, comment: Comment) -> Comment:
        self._marked[(issue, marker)] = comment
        return comment

    def add_labels(self, issue: int, labels: list[str]) -> None:
        names = _label_names(labels)
        if names:
            self._on_issue(issue, f"label #{issue}", lambda: self.api.rest.issues.add_labels(
                *self._repo_args, issue, headers=HEADERS, data={"labels": names}))

    def remove_labels(self, issue: int, labels: list[str]) -> None:
        """Remove each label; one the issue does not have is ignored (GitHub answers 404)."""
        for name in _label_names(labels):
            try:
                self._call(f"unlabel #{issue}", lambda: self.api.rest.issues.remove_label(
                    *self._repo_args, issue, quote(name, safe=""), headers=HEADERS))
            except RequestFailed as exc:
                if exc.response.status_code != 404:
                    raise self._refused(exc, f"remove label {name!r} from #{issue}") from None

    # -------------------------------------------------------------- repository

    def check_push(self, branch: str) -> None:
        """Write access through the API, then the remote branch holds nothing the local one lacks."""
        perms = self._repo().get("permissions") or {}
        if not any(perms.get(role) for role in ("admin", "maintain", "push")):
            role = next((r for r in ("triage", "pull") if perms.get(r)), "none")
            raise UsageError(f"the token from {self.token.source} cannot push to {self.slug} (its access: {role})",
                             f"use a token of a user with write access to {self.slug}; {TOKEN_HINT}")
        self.git.check_branch(branch)

    def permission(self, user: str) -> str:
        """`user`'s permission: admin, write, read or none (maintain counts as write, triage as read)."""
        try:
            data = self._call(f"read the permission of @{user}", lambda: self.api.rest.repos.
                              get_collaborator_permission_level(*self._repo_args, user, headers=HEADERS)).json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return "none"
            raise self._refused(exc, f"read the permission of @{user}") from None
        return str(data.get("permission") or "none")

    def blob_url(self, ref: str, path: str) -> str | None:
        return f"{self._repo()['html_url']}/blob/{quote(ref)}/{quote(path)}"

    def push_branch(self, branch: str) -> None:
        """Push the local branch to the remote; refused when the remote one has other commits."""
        self.git.check_branch(branch)
        self.git.push(branch)

    # ---------------------------------------------------------- pull requests

    def find_pr(self, head: str) -> PullRequest | None:
        """The open pull request from `head` in this repository (newest if several), or None."""
        found = self._call(f"look up the pull request from {head}", lambda: self.api.rest.pulls.list(
            *self._repo_args, head=f"{self.slug.owner}:{head}", state="open", per_page=PER_PAGE,
            headers=HEADERS)).json()
        mine = [item for item in found if (item.get("head") or {}).get("ref") == head]
        return _pull(max(mine, key=lambda item: item["number"])) if mine else None

    def find_or_create_pr(self, *, head: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest:
        """Idempotent by head branch: an open PR from `head` is returned unchanged."""
        existing = self.find_pr(head)
        if existing is not None:
            return existing
        try:
            data = self._call(f"open a pull request from {head}", lambda: self.api.rest.pulls.create(
                *self._repo_args, headers=HEADERS,
                data={"title": title, "head": head, "base": base, "body": body, "draft": bool(draft)})).json()
        except RequestFailed as exc:
            again = self.find_pr(head) if exc.response.status_code == 422 else None
            if again is not None:  # "A pull request already exists": created by an earlier attempt
                return again
            raise self._refused(exc, f"open a pull request from {head} into {base}") from None
        return _pull(data)

    def update_pr(self, number: int, *, body: str | None = None, draft: bool | None = None) -> PullRequest:
        """Replace the body and/or switch draft ↔ ready; None leaves that as it is."""
        data = None
        if body is not None:
            data = self._on_pr(number, "update", lambda: self.api.rest.pulls.update(
                *self._repo_args, number, headers=HEADERS, data={"body": body}))
        if draft is not None:
            data = data or self._get_pr(number)
            if bool(data.get("draft")) != draft:
                self._set_draft(number, data["node_id"], draft)
                data = self._get_pr(number)
        return _pull(data or self._get_pr(number))

    def _get_pr(self, number: int) -> dict[str, Any]:
        return self._on_pr(number, "read", lambda: self.api.rest.pulls.get(*self._repo_args, number, headers=HEADERS))

    def _set_draft(self, number: int, node_id: str, draft: bool) -> None:
        """REST cannot change the draft flag; GraphQL's two mutations can."""
        try:
            self._call(f"mark pull request #{number} {'draft' if draft else 'ready'}",
                       lambda: self.api.graphql.request(MARK_DRAFT if draft else MARK_READY, {"id": node_id}))
        except GraphQLFailed as exc:
            errors = "; ".join(e.message for e in exc.response.errors or [])
            raise UsageError(f"GitHub refused to mark pull request #{number} {'draft' if draft else 'ready'}: "
                             f"{errors}", "drafts need a public repository or a paid plan; set "
                             "orchestrator.pr_draft: false") from None

    # ----------------------------------------------------------------- helpers

    @property
    def _repo_args(self) -> tuple[str, str]:
        return self.slug.owner, self.slug.name

    def _repo(self) -> dict[str, Any]:
        """The repository (web URL, the token's permissions), read once."""
        if self._repo_data is None:
            try:
                self._repo_data = self._call(f"read {self.slug}", lambda: self.api.rest.repos.get(
                    *self._repo_args, headers=HEADERS)).json()
            except RequestFailed as exc:
                if exc.response.status_code == 404:
                    raise UsageError(f"repository {self.slug} not found at {self.base_url}, or the token from "
                                     f"{self.token.source} cannot see it",
                                     "check --repo-slug / orchestrator.github.repo_slug, the remote URL, "
                                     "github.base_url for GitHub Enterprise, and the token's access") from None
                raise self._refused(exc, f"read {self.slug}") from None
        return self._repo_data

    def _comments(self, issue: int) -> list[Comment]:
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self._on_issue(issue, f"read the comments of #{issue}", lambda: self.api.rest.issues.list_comments(
                *self._repo_args, issue, per_page=PER_PAGE, page=page, headers=HEADERS))
            items += batch
            if len(batch) < PER_PAGE:
                break
        return [_comment(item) for item in items]

    def _edit_comment(self, issue: int, comment_id: int, body: str) -> Comment:
        data = self._on_issue(issue, f"edit comment {comment_id} on #{issue}", lambda: self.api.rest.issues.
                              update_comment(*self._repo_args, comment_id, headers=HEADERS, data={"body": body}))
        return _comment(data)

    def _on_issue(self, number: int, what: str, request: Callable[[], Any]) -> Any:
        """A request about one issue: 404/410 mean there is no such issue."""
        _check_number(number)
        try:
            return self._call(what, request).json()
        except RequestFailed as exc:
            if exc.response.status_code in (404, 410):
                raise UnknownIssueError(
                    f"issue #{number} not found in {self.slug}" + (" (deleted)" if exc.response.status_code == 410
                                                                   else ""),
                    f"check the number on the repository's issue list, and that the token from "
                    f"{self.token.source} can read {self.slug}") from None
            raise self._refused(exc, what) from None

    def _on_pr(self, number: int, verb: str, request: Callable[[], Any]) -> dict[str, Any]:
        _check_number(number)
        try:
            return self._call(f"{verb} pull request #{number}", request).json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                raise UsageError(f"pull request #{number} not found in {self.slug}",
                                 "check the number on the repository's pull request list") from None
            raise self._refused(exc, f"{verb} pull request #{number}") from None

    def _call(self, what: str, request: Callable[[], Any]) -> Any:
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

    def _refused(self, exc: RequestFailed, what: str) -> UsageError:
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


# ------------------------------------------------------------------ JSON → models


def _pull(data: dict[str, Any]) -> PullRequest:
    state = "merged" if data.get("merged_at") else ("closed" if data.get("state") == "closed" else "open")
    return PullRequest(number=data["number"], title=data.get("title") or "", body=_text(data.get("body")),
                       head=(data.get("head") or {}).get("ref", ""), base=(data.get("base") or {}).get("ref", ""),
                       url=data.get("html_url") or "", state=state, draft=bool(data.get("draft")))


def _comment(data: dict[str, Any]) -> Comment:
    return Comment(id=data["id"], author=(data.get("user") or {}).get("login") or "ghost",
                   body=_text(data.get("body")), created_at=data.get("created_at") or "")


def _text(value: Any) -> str:
    """A body as text with LF line endings (the web editor sends CRLF)."""
    return str(value or "").replace("\r\n", "\n")


def _label_names(labels: Iterable[str] | str) -> list[str]:
    """Stripped, non-empty, distinct label names; a lone string is one label."""
    if isinstance(labels, str):
        labels = [labels]
    return list(dict.fromkeys(label.strip() for label in labels if isinstance(label, str) and label.strip()))


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
