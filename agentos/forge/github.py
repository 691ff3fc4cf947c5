"""GitHub as a forge, through githubkit: REST for issues, comments, labels and pull requests,
GraphQL only to mark a pull request draft or ready (REST cannot), git for the push.

Answers are read as plain JSON, only the fields we use, so GitHub Enterprise versions that
differ elsewhere still work. Every request goes through `github_api.GitHubApi`, which pins
the API version, retries, waits out rate limits and turns refusals into typed errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from githubkit.exception import GraphQLFailed, RequestFailed

from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.base import Comment, Issue, PullRequest, marked_body
from agentos.forge.github_api import HEADERS, GitHubApi
from agentos.forge.remote import TOKEN_HINT, AccessDenied, GitRemote, RepoSlug, Token, host_of_api, origin_url
from agentos.redact import remember

PER_PAGE = 100
MAX_PAGES = 50
MARK_DRAFT = ("mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) "
              "{ pullRequest { isDraft } } }")
MARK_READY = ("mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
              "{ pullRequest { isDraft } } }")


class GitHubForge:
    """Issues and pull requests of one GitHub (or GitHub Enterprise) repository."""

    name = "github"

    def __init__(self, repo_root: Path, slug: RepoSlug, token: Token, *, base_url: str, remote: str = "origin",
                 host: str | None = None, retries: int = 3, rate_limit_wait_s: float = 300,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 transport: Any = None):
        self.slug, self.token, self.base_url = slug, token, base_url
        remember({"GH_CLI_TOKEN": token.value})  # redacted everywhere, also when it came from `gh auth token`
        self.api = GitHubApi(slug, token, base_url=base_url, retries=retries, rate_limit_wait_s=rate_limit_wait_s,
                             sleep=sleep, clock=clock, transport=transport)
        self.comments = IssueComments(self.api, self.viewer)
        self.git = GitRemote(repo_root, remote, host or host_of_api(base_url), token, sleep=sleep)
        self.summary = f"github {slug} (token from {token.source})"
        self._repo_data: dict[str, Any] | None = None
        self._viewer: list[str | None] = []

    def viewer(self) -> str | None:
        """The login the token acts as (GET /user), read once; None when the token may not read it
        (a GitHub App installation token): then no existing comment is taken for agentos's own."""
        if not self._viewer:
            try:
                data = self.api.call("read the token's user", lambda: self.api.rest.users.get_authenticated(
                    headers=HEADERS)).json()
            except RequestFailed as exc:
                if exc.response.status_code not in (403, 404):
                    raise self.api.refused(exc, "read the token's user") from None
                data = {}
            self._viewer.append(data.get("login") or None)
        return self._viewer[0]

    # ----------------------------------------------------------------- issues

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; a pull request's number is refused as not an issue."""
        data = self.api.on_issue(number, f"read issue #{number}",
                                 lambda: self.api.rest.issues.get(*self.api.repo, number, headers=HEADERS))
        if data.get("pull_request"):
            raise UnknownIssueError(f"#{number} is a pull request in {self.slug}, not an issue",
                                    "pass the number of the issue itself (the one the pull request is for)")
        comments = self.comments.list(number) if data.get("comments", 1) else []
        return Issue(number=number, title=data.get("title") or "", body=_text(data.get("body")),
                     labels=[label["name"] for label in data.get("labels") or []],
                     state="closed" if data.get("state") == "closed" else "open",
                     comments=comments, url=data.get("html_url"))

    def open_issues(self, label: str | None = None) -> list[Issue]:
        """The open issues (with `label`, when given), oldest first, page by page; without comments."""
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            try:
                batch = self.api.call("list the open issues", lambda: self.api.rest.issues.list_for_repo(
                    *self.api.repo, state="open", labels=label, sort="created", direction="asc",
                    per_page=PER_PAGE, page=page, headers=HEADERS)).json()
            except RequestFailed as exc:
                raise self.api.refused(exc, "list the open issues") from None
            items += batch
            if len(batch) < PER_PAGE:
                break
        return [Issue(number=d["number"], title=d.get("title") or "", body=_text(d.get("body")),
                      labels=[x["name"] for x in d.get("labels") or []], url=d.get("html_url"))
                for d in items if not d.get("pull_request")]

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it: one comment per marker, ever."""
        return self.comments.upsert(issue, marker, marked_body(marker, body))

    def add_labels(self, issue: int, labels: list[str]) -> None:
        names = _label_names(labels)
        if names:
            self.api.on_issue(issue, f"label #{issue}", lambda: self.api.rest.issues.add_labels(
                *self.api.repo, issue, headers=HEADERS, data={"labels": names}))

    def remove_labels(self, issue: int, labels: list[str]) -> None:
        """Remove each label; one the issue does not have is ignored (GitHub answers 404)."""
        for name in _label_names(labels):
            try:
                self.api.call(f"unlabel #{issue}", lambda: self.api.rest.issues.remove_label(
                    *self.api.repo, issue, quote(name, safe=""), headers=HEADERS))
            except RequestFailed as exc:
                if exc.response.status_code != 404:
                    raise self.api.refused(exc, f"remove label {name!r} from #{issue}") from None

    # -------------------------------------------------------------- repository

    def check_push(self, branch: str) -> None:
        """Before any model is paid: the user may write (the repository's `permissions` describe the
        user's role), the remote branch holds nothing the local one lacks, and the token itself may
        push (a dry-run push: a fine-grained token without contents write is refused there)."""
        perms = self._repo().get("permissions") or {}
        if not any(perms.get(role) for role in ("admin", "maintain", "push")):
            role = next((r for r in ("triage", "pull") if perms.get(r)), "none")
            raise UsageError(f"the token from {self.token.source} cannot push to {self.slug} (its access: {role})",
                             f"use a token of a user with write access to {self.slug}; {TOKEN_HINT}")
        self.git.check_branch(branch)
        try:
            self.git.check_push_access(branch)
        except AccessDenied as exc:
            said = " ".join(exc.said.split())
            url = origin_url(self.git.root, self.git.remote) or ""
            if not url.startswith(("https://", "http://")):  # git uses the SSH key there, not the token
                raise UsageError(f"git cannot push to {self.slug} over {url}; a dry-run push was refused: {said}",
                                 "add an SSH key with write access, or use an HTTPS remote with the token") from None
            raise UsageError(
                f"the token from {self.token.source} cannot push to {self.slug}; a dry-run push was refused: {said}",
                f"give the token write access to the repository's contents (a fine-grained token: Repository "
                f"permissions → Contents → Read and write; a classic token: the `repo` scope), or use another "
                f"token; {TOKEN_HINT}") from None

    def permission(self, user: str) -> str:
        """`user`'s permission: admin, write, read or none (maintain counts as write, triage as read)."""
        try:
            data = self.api.call(f"read the permission of @{user}", lambda: self.api.rest.repos.
                                 get_collaborator_permission_level(*self.api.repo, user, headers=HEADERS)).json()
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return "none"
            raise self.api.refused(exc, f"read the permission of @{user}") from None
        return str(data.get("permission") or "none")

    def blob_url(self, ref: str, path: str) -> str | None:
        return f"{self._repo()['html_url']}/blob/{quote(ref)}/{quote(path)}"

    def fetch_branch(self, branch: str) -> None:
        """Bring the branch from the remote (another machine's run of the issue), when it is there."""
        self.git.fetch(branch)

    def push_branch(self, branch: str) -> None:
        """Push the local branch to the remote; refused when the remote one has other commits."""
        self.git.check_branch(branch)
        self.git.push(branch)

    def _repo(self) -> dict[str, Any]:
        """The repository (web URL, the token's permissions), read once."""
        if self._repo_data is None:
            try:
                self._repo_data = self.api.call(f"read {self.slug}", lambda: self.api.rest.repos.get(
                    *self.api.repo, headers=HEADERS)).json()
            except RequestFailed as exc:
                if exc.response.status_code == 404:
                    raise UsageError(f"repository {self.slug} not found at {self.base_url}, or the token from "
                                     f"{self.token.source} cannot see it",
                                     "check --repo-slug / orchestrator.github.repo_slug, the remote URL, "
                                     "github.base_url for GitHub Enterprise, and the token's access") from None
                raise self.api.refused(exc, f"read {self.slug}") from None
        return self._repo_data

    # ---------------------------------------------------------- pull requests

    def find_pr(self, head: str) -> PullRequest | None:
        """The open pull request from `head` in this repository (newest if several), or None."""
        found = self.api.call(f"look up the pull request from {head}", lambda: self.api.rest.pulls.list(
            *self.api.repo, head=f"{self.slug.owner}:{head}", state="open", per_page=PER_PAGE,
            headers=HEADERS)).json()
        mine = [item for item in found if (item.get("head") or {}).get("ref") == head]
        return _pull(max(mine, key=lambda item: item["number"])) if mine else None

    def find_or_create_pr(self, *, head: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest:
        """Idempotent by head branch: an open PR from `head` is returned unchanged."""
        existing = self.find_pr(head)
        if existing is not None:
            return existing
        try:
            data = self.api.call(f"open a pull request from {head}", lambda: self.api.rest.pulls.create(
                *self.api.repo, headers=HEADERS,
                data={"title": title, "head": head, "base": base, "body": body, "draft": bool(draft)})).json()
        except RequestFailed as exc:
            again = self.find_pr(head) if exc.response.status_code == 422 else None
            if again is not None:  # "A pull request already exists": created by an earlier attempt
                return again
            raise self.api.refused(exc, f"open a pull request from {head} into {base}") from None
        return _pull(data)

    def update_pr(self, number: int, *, body: str | None = None, draft: bool | None = None) -> PullRequest:
        """Replace the body and/or switch draft ↔ ready; None leaves that as it is."""
        data = None
        if body is not None:
            data = self.api.on_pr(number, "update", lambda: self.api.rest.pulls.update(
                *self.api.repo, number, headers=HEADERS, data={"body": body}))
        if draft is not None:
            data = data or self._get_pr(number)
            if bool(data.get("draft")) != draft:
                self._set_draft(number, data["node_id"], draft)
                data = self._get_pr(number)
        return _pull(data or self._get_pr(number))

    def _get_pr(self, number: int) -> dict[str, Any]:
        return self.api.on_pr(number, "read", lambda: self.api.rest.pulls.get(*self.api.repo, number,
                                                                                headers=HEADERS))

    def _set_draft(self, number: int, node_id: str, draft: bool) -> None:
        """REST cannot change the draft flag; GraphQL's two mutations can."""
        try:
            self.api.call(f"mark pull request #{number} {'draft' if draft else 'ready'}",
                          lambda: self.api.graphql.request(MARK_DRAFT if draft else MARK_READY, {"id": node_id}))
        except GraphQLFailed as exc:
            errors = "; ".join(e.message for e in exc.response.errors or [])
            raise UsageError(f"GitHub refused to mark pull request #{number} {'draft' if draft else 'ready'}: "
                             f"{errors}", "drafts need a public repository or a paid plan; set "
                             "orchestrator.pr_draft: false") from None


class IssueComments:
    """Issue comments on GitHub, with each marked comment remembered once found or written,
    so editing it again needs no listing.

    A marker is only a hint: anyone can write it into a comment. A listed comment is taken for
    ours only when the token's own user wrote it; one by anybody else is left alone.
    """

    def __init__(self, api: GitHubApi, viewer: Callable[[], str | None]):
        self.api = api
        self.viewer = viewer
        """The login the token acts as, or None when it cannot be known."""
        self._marked: dict[tuple[int, str], Comment] = {}
        """(issue, marker) → the comment carrying that marker, as last written."""

    def list(self, issue: int) -> list[Comment]:
        """All of the issue's comments, oldest first, page by page."""
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.api.on_issue(issue, f"read the comments of #{issue}", lambda: self.api.rest.issues.
                                      list_comments(*self.api.repo, issue, per_page=PER_PAGE, page=page,
                                                    headers=HEADERS))
            items += batch
            if len(batch) < PER_PAGE:
                break
        return [_comment(item) for item in items]

    def upsert(self, issue: int, marker: str, body: str) -> Comment:
        """Make the one comment carrying `marker` read `body` (which contains the marker)."""
        known = self._marked.get((issue, marker))
        if known is not None and known.body == body:
            return known
        if known is not None:  # found or made earlier by this forge: edit it without listing again
            try:
                return self._remember(issue, marker, self._edit(issue, known.id, body))
            except UnknownIssueError:  # the comment was deleted meanwhile
                del self._marked[(issue, marker)]
        me = self.viewer()
        comment = next((c for c in self.list(issue) if marker in c.body and me and c.author == me), None)
        if comment is not None and comment.body != body:
            comment = self._edit(issue, comment.id, body)
        if comment is None:
            comment = _comment(self.api.on_issue(issue, f"comment on #{issue}", lambda: self.api.rest.issues.
                                                 create_comment(*self.api.repo, issue, headers=HEADERS,
                                                                data={"body": body})))
        return self._remember(issue, marker, comment)

    def _remember(self, issue: int, marker: str, comment: Comment) -> Comment:
        self._marked[(issue, marker)] = comment
        return comment

    def _edit(self, issue: int, comment_id: int, body: str) -> Comment:
        data = self.api.on_issue(issue, f"edit comment {comment_id} on #{issue}", lambda: self.api.rest.issues.
                                 update_comment(*self.api.repo, comment_id, headers=HEADERS, data={"body": body}))
        return _comment(data)


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
