"""A loopback fake of exactly the GitHub endpoints GitHubForge uses, for tests.

It keeps issues, comments, labels and pull requests in memory, numbers issues and pull
requests from one sequence like GitHub, and checks every request the way GitHub would:
the token (401 "Bad credentials" otherwise), the Accept, User-Agent and API-version headers,
and the JSON body's keys and types. A request that GitHub would not accept in that shape is
answered 400 and recorded in `problems`, which the tests assert is empty.

When `origin` is a bare git repository, opening a pull request checks that the head and
base branches really are there and differ, as GitHub does, and `{web}.git` serves it to git over
HTTP with GitHub's authentication (fake_git_http.py).

Only 127.0.0.1; `start()` and `stop()` are called by the tests (or use it as a context manager).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.forge.fake_git_http import GIT_PATH
from tests.forge.fake_git_http import answer as git_answer
from tests.helpers.loopback import LoopbackServer, QuietHandler
from tests.helpers.repos import rev

API_VERSION = "2022-11-28"


@dataclass
class Injected:
    """A canned answer for the next `times` requests whose "METHOD path" matches `pattern`."""

    pattern: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeGitHub:
    def __init__(self, owner: str = "acme", name: str = "widgets", token: str = "test-token",
                 viewer: str = "agentos-bot", origin: Path | None = None):
        self.owner, self.name, self.token, self.viewer, self.origin = owner, name, token, viewer, origin
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.pulls: dict[int, dict[str, Any]] = {}
        self.permissions: dict[str, str] = {viewer: "admin"}
        self.repo_permissions = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
        """The user's role, as GitHub reports it on the repository (whatever the token may do)."""
        self.user_readable = True
        """False: GET /user is refused (403), as for a GitHub App installation token."""
        self.token_can_push = True
        """False: the token may read the repository but not write its contents (git over HTTP refuses the push)."""
        self.git_requests: list[str] = []
        """The git requests over HTTP that passed authentication: "METHOD /path?query"."""
        self.requests: list[Seen] = []
        self.problems: list[str] = []
        self.injected: list[Injected] = []
        self.on_pr_created: Callable[[dict[str, Any]], None] | None = None
        """Called after a pull request is stored and before the answer is sent (e.g. to kill the client)."""
        self._number = 0
        self._comment_id = 1000
        self._lock = threading.RLock()
        self._http = LoopbackServer(type("Handler", (_Handler,), {"fake": self}), name="fake-github")

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "FakeGitHub":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> "FakeGitHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{self._http.url}/"

    @property
    def web(self) -> str:
        return f"{self.url}{self.owner}/{self.name}"

    # --------------------------------------------------------------- seeding

    def add_issue(self, title: str, body: str = "", labels: list[str] | tuple[str, ...] = (),
                  state: str = "open") -> int:
        with self._lock:
            number = self._next()
            self.issues[number] = {"number": number, "title": title, "body": body, "state": state,
                                   "labels": [{"name": n} for n in dict.fromkeys(labels)],
                                   "html_url": f"{self.web}/issues/{number}", "user": {"login": "reporter"}}
            return number

    def add_pull(self, title: str, head: str, base: str = "main", body: str = "") -> int:
        """A pull request opened by someone else (no git checks)."""
        with self._lock:
            status, pull, _ = self.create_pull({}, {"title": title, "head": head, "base": base, "body": body},
                                               check_branches=False)
            assert status == 201, pull
            return pull["number"]

    def add_comment(self, number: int, author: str, body: str) -> int:
        with self._lock:
            self._comment_id += 1
            self.comments[self._comment_id] = {"id": self._comment_id, "issue": number, "body": body,
                                               "user": {"login": author}, "created_at": "2026-01-01T00:00:00Z"}
            return self._comment_id

    def inject(self, pattern: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        """Answer the next `times` requests matching `pattern` ("METHOD /path" regex) with this."""
        self.injected.append(Injected(pattern, status, body, headers or {}, times))

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    def labels_of(self, number: int) -> list[str]:
        return [label["name"] for label in self.issues[number]["labels"]]

    def calls(self, method: str, pattern: str = "") -> list[Seen]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def _next(self) -> int:
        self._number += 1
        return self._number

    # --------------------------------------------------------------- routing

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append(Seen(method, path, query, headers, body))
            canned = self._canned(f"{method} {path}")
            if canned is not None:
                return canned
            if headers.get("authorization") != f"token {self.token}":
                return 401, {"message": "Bad credentials"}, {}
            problem = self._header_problem(path, headers)
            if problem:
                return self._problem(problem)
            for verb, pattern, name in ROUTES:
                match = re.fullmatch(pattern.format(repo=re.escape(f"/repos/{self.owner}/{self.name}")), path)
                if match and verb == method:
                    return getattr(self, name)(query, body, *match.groups())
            return 404, {"message": "Not Found", "path": path}, {}

    def _canned(self, request: str) -> tuple[int, Any, dict[str, str]] | None:
        for item in self.injected:
            if item.times > 0 and re.search(item.pattern, request):
                item.times -= 1
                return item.status, item.body, item.headers
        return None

    def _header_problem(self, path: str, headers: dict[str, str]) -> str | None:
        if "application/vnd.github" not in headers.get("accept", ""):
            return f"Accept header {headers.get('accept')!r} is not application/vnd.github+json"
        if not headers.get("user-agent"):
            return "no User-Agent header"
        if path != "/graphql" and headers.get("x-github-api-version") != API_VERSION:
            return f"X-GitHub-Api-Version {headers.get('x-github-api-version')!r}, expected {API_VERSION}"
        return None

    def _problem(self, text: str) -> tuple[int, Any, dict[str, str]]:
        self.problems.append(text)
        return 400, {"message": text}, {}

    def _body(self, body: Any, required: dict[str, type], optional: dict[str, type] | None = None) -> str | None:
        """Why `body` is not a JSON object with exactly these keys and types, or None."""
        allowed = {**required, **(optional or {})}
        if not isinstance(body, dict):
            return f"expected a JSON object, got {body!r}"
        missing = set(required) - set(body)
        extra = set(body) - set(allowed)
        wrong = [k for k, v in body.items() if k in allowed and not isinstance(v, allowed[k])]
        if missing or extra or wrong:
            return f"body keys: missing {sorted(missing)}, unexpected {sorted(extra)}, wrong type {wrong}"
        return None

    # ---------------------------------------------------------------- handlers

    def repo(self, query, body):
        return 200, {"full_name": f"{self.owner}/{self.name}", "html_url": self.web, "default_branch": "main",
                     "permissions": dict(self.repo_permissions)}, {}

    def user(self, query, body):
        if not self.user_readable:
            return 403, {"message": "Resource not accessible by integration"}, {}
        return 200, {"login": self.viewer, "type": "User"}, {}

    def list_issues(self, query, body):
        """GET /repos/{o}/{r}/issues as GitHub answers it: pull requests included (with a
        `pull_request` key), `labels` a comma list that must all match, created order, paged."""
        state = query.get("state", ["open"])[0]
        wanted = {n for n in query.get("labels", [""])[0].split(",") if n}
        per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
        items = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        items = [i for i in items if wanted <= {label["name"] for label in i["labels"]}]
        items.sort(key=lambda i: i["number"], reverse=query.get("direction", ["desc"])[0] == "desc")
        return 200, items[(page - 1) * per_page: page * per_page], {}

    def get_issue(self, query, body, number):
        issue = self.issues.get(int(number))
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        return 200, {**issue, "comments": len(self.comments_on(int(number)))}, {}

    def list_comments(self, query, body, number):
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}, {}
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        items = self.comments_on(int(number))[(page - 1) * per_page: page * per_page]
        return 200, [{k: v for k, v in c.items() if k != "issue"} for c in items], {}

    def create_comment(self, query, body, number):
        if (problem := self._body(body, {"body": str})):
            return self._problem(problem)
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}, {}
        cid = self.add_comment(int(number), self.viewer, body["body"])
        return 201, {k: v for k, v in self.comments[cid].items() if k != "issue"}, {}

    def update_comment(self, query, body, comment_id):
        if (problem := self._body(body, {"body": str})):
            return self._problem(problem)
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return 404, {"message": "Not Found"}, {}
        comment["body"] = body["body"]
        return 200, {k: v for k, v in comment.items() if k != "issue"}, {}

    def add_labels(self, query, body, number):
        if (problem := self._body(body, {"labels": list})) or not all(isinstance(x, str) for x in body["labels"]):
            return self._problem(problem or f"labels must be strings: {body}")
        issue = self.issues.get(int(number))
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        for name in body["labels"]:
            if name not in self.labels_of(int(number)):
                issue["labels"].append({"name": name})
        return 200, issue["labels"], {}

    def remove_label(self, query, body, number, name):
        issue = self.issues.get(int(number))
        name = unquote(name)
        if issue is None or name not in self.labels_of(int(number)):
            return 404, {"message": "Label does not exist"}, {}
        issue["labels"] = [label for label in issue["labels"] if label["name"] != name]
        return 200, issue["labels"], {}

    def list_pulls(self, query, body):
        head = query.get("head", [""])[0]
        state = query.get("state", ["open"])[0]
        found = [p for p in self.pulls.values() if (not head or p["head"]["label"] == head)
                 and (state == "all" or p["state"] == state)]
        return 200, found, {}

    def create_pull(self, query, body, check_branches: bool = True):
        problem = self._body(body, {"title": str, "head": str, "base": str},
                             {"body": str, "draft": bool, "maintainer_can_modify": bool})
        if problem:
            return self._problem(problem)
        label = f"{self.owner}:{body['head']}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls.values()):
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": f"A pull request already exists for {label}."}]}, {}
        invalid = self._branches_invalid(body["head"], body["base"]) if check_branches else None
        if invalid:
            return 422, {"message": "Validation Failed", "errors": [invalid]}, {}
        number = self._next()
        pull = {"number": number, "title": body["title"], "body": body.get("body", ""), "state": "open",
                "draft": body.get("draft", False), "merged_at": None, "node_id": f"PR_node{number}",
                "head": {"ref": body["head"], "label": label}, "base": {"ref": body["base"]},
                "html_url": f"{self.web}/pull/{number}"}
        self.pulls[number] = pull
        self.issues[number] = {"number": number, "title": body["title"], "body": pull["body"], "state": "open",
                               "labels": [], "html_url": pull["html_url"], "pull_request": {"url": pull["html_url"]}}
        if self.on_pr_created is not None:
            self.on_pr_created(pull)
        return 201, pull, {}

    def _branches_invalid(self, head: str, base: str) -> dict[str, str] | None:
        """GitHub's checks: both branches exist on the repository, and head has commits over base."""
        if self.origin is None:
            return None
        shas = {name: rev(self.origin, f"refs/heads/{name}") for name in (head, base)}
        for name, sha in shas.items():
            if sha is None:
                return {"resource": "PullRequest", "field": "head" if name == head else "base", "code": "invalid"}
        if shas[head] == shas[base]:
            return {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head}"}
        return None

    def get_pull(self, query, body, number):
        pull = self.pulls.get(int(number))
        return (200, pull, {}) if pull else (404, {"message": "Not Found"}, {})

    def update_pull(self, query, body, number):
        if (problem := self._body(body, {}, {"title": str, "body": str, "state": str, "base": str})):
            return self._problem(problem)
        pull = self.pulls.get(int(number))
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        pull.update(body)
        return 200, pull, {}

    def permission(self, query, body, user):
        if user not in self.permissions:
            return 404, {"message": f"{user} is not a user"}, {}
        return 200, {"permission": self.permissions[user], "user": {"login": user}}, {}

    def graphql(self, query, body):
        if (problem := self._body(body, {"query": str}, {"variables": dict})):
            return self._problem(problem)
        ident = (body.get("variables") or {}).get("id")
        pull = next((p for p in self.pulls.values() if p["node_id"] == ident), None)
        mutation = re.search(r"\b(convertPullRequestToDraft|markPullRequestReadyForReview)\b", body["query"])
        if mutation is None or pull is None:
            return 200, {"data": None, "errors": [{"type": "NOT_FOUND", "message": f"no such node {ident!r}"}]}, {}
        pull["draft"] = mutation.group(1) == "convertPullRequestToDraft"
        return 200, {"data": {mutation.group(1): {"pullRequest": {"isDraft": pull["draft"]}}}}, {}


ROUTES = [
    ("GET", r"/user", "user"),
    ("GET", r"{repo}", "repo"),
    ("GET", r"{repo}/issues", "list_issues"),
    ("GET", r"{repo}/issues/(\d+)", "get_issue"),
    ("GET", r"{repo}/issues/(\d+)/comments", "list_comments"),
    ("POST", r"{repo}/issues/(\d+)/comments", "create_comment"),
    ("PATCH", r"{repo}/issues/comments/(\d+)", "update_comment"),
    ("POST", r"{repo}/issues/(\d+)/labels", "add_labels"),
    ("DELETE", r"{repo}/issues/(\d+)/labels/([^/]+)", "remove_label"),
    ("GET", r"{repo}/pulls", "list_pulls"),
    ("POST", r"{repo}/pulls", "create_pull"),
    ("GET", r"{repo}/pulls/(\d+)", "get_pull"),
    ("PATCH", r"{repo}/pulls/(\d+)", "update_pull"),
    ("GET", r"{repo}/collaborators/([^/]+)/permission", "permission"),
    ("POST", r"/graphql", "graphql"),
]


class _Handler(QuietHandler):
    fake: FakeGitHub

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        raw, headers = self.read_body()
        if GIT_PATH.fullmatch(parts.path):
            return self._send_raw(*git_answer(self.fake, self.command, parts.path, parts.query, headers, raw))
        body: Any = None
        if raw:
            if "application/json" not in headers.get("content-type", ""):
                self.fake.problems.append(f"{self.command} {parts.path}: body sent as {headers.get('content-type')}")
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        status, payload, extra = self.fake.handle(self.command, parts.path, parse_qs(parts.query), headers, body)
        data = json.dumps(payload).encode() if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client was killed mid-request (on purpose)
            self.close_connection = True

    def _send_raw(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
