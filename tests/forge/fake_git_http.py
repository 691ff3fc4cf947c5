"""The fake GitHub's git side over HTTP, as GitHub serves it: git's own smart-HTTP server
(`git http-backend`) behind GitHub's authentication. The token is the Basic-auth password
(anything else: 401, so git asks its credential helper); a token that may read but not write the
repository's contents is refused a push with 403 and GitHub's words, already when git asks for
the push's ref advertisement, which is what `git push --dry-run` does."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.forge.fake_github import FakeGitHub

GIT_PATH = re.compile(r"/([^/]+)/([^/]+?)\.git(/.*)")


def answer(fake: FakeGitHub, method: str, path: str, query: str, headers: dict[str, str],
           body: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a git request to the fake's repository."""
    owner, name, rest = GIT_PATH.fullmatch(path).groups()
    if (owner, name) != (fake.owner, fake.name) or fake.origin is None:
        return 404, {"Content-Type": "text/plain"}, b"Repository not found.\n"
    if _password(headers.get("authorization", "")) != fake.token:
        return 401, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}, \
            b"Invalid username or token.\n"
    fake.git_requests.append(f"{method} {rest}?{query}")
    pushing = "service=git-receive-pack" in query or rest == "/git-receive-pack"
    if pushing and not fake.token_can_push:
        return 403, {"Content-Type": "text/plain"}, \
            f"Permission to {owner}/{name}.git denied to {fake.viewer}.\n".encode()
    env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(fake.origin.parent), "GIT_HTTP_EXPORT_ALL": "1",
           "PATH_INFO": f"/{fake.origin.name}{rest}", "REQUEST_METHOD": method, "QUERY_STRING": query,
           "CONTENT_TYPE": headers.get("content-type", ""), "CONTENT_LENGTH": str(len(body)),
           "HTTP_CONTENT_ENCODING": headers.get("content-encoding", ""), "REMOTE_USER": fake.viewer,
           "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": headers.get("git-protocol", "")}
    out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
    return _cgi(out)


def _password(authorization: str) -> str:
    if not authorization.startswith("Basic "):
        return ""
    return base64.b64decode(authorization[6:]).decode(errors="replace").partition(":")[2]


def _cgi(out: bytes) -> tuple[int, dict[str, str], bytes]:
    """A CGI answer: header lines (Status among them), a blank line, the body."""
    cut = out.find(b"\r\n\r\n")
    head, payload = (out[:cut], out[cut + 4:]) if cut != -1 else out.split(b"\n\n", 1)
    status, headers = 200, {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    return status, headers, payload
