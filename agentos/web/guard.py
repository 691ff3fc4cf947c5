"""Who may look and who may act: the dashboard's access token, CSRF token and origin checks.

Bound to loopback the dashboard is open to the machine's own browsers, as `agentos status` is
to its users; bound to any other address every request must carry the access token printed at
start (once given in the URL it lives in an HttpOnly cookie). Every state-changing request,
wherever bound, must also carry the page's CSRF token and come from the dashboard's own origin,
so another web page open in the same browser cannot decide a gate. Every response forbids
inline and foreign scripts (Content-Security-Policy), a second wall behind escaping.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit, urlencode

TOKEN_COOKIE = "agentos_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 256 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                                 b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The tokens of one server: the access token (None when bound to loopback) and the CSRF token."""

    loopback: bool
    token: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_host(cls, host: str) -> Guard:
        loopback = is_loopback(host)
        return cls(loopback, None if loopback else secrets.token_urlsafe(24))

    def has_token(self, given: str | None) -> bool:
        return self.token is None or (given is not None and hmac.compare_digest(given.encode(), self.token.encode()))

    def has_csrf(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class GuardMiddleware:
    """Refuse requests without the access token, state changes without the CSRF token or from
    another origin, and (on loopback) requests naming a foreign host (DNS rebinding)."""

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        refusal = self._refusal(scope, headers, query)
        if refusal:
            return await _plain(send, *refusal)
        if self.guard.token and query.get("token"):
            return await _enter(send, scope, query, self.guard.token)
        if scope["method"] not in SAFE_METHODS:
            body = await _read_body(receive)
            if body is None:
                return await _plain(send, 413, "request too large")
            if not self.guard.has_csrf(headers.get(CSRF_HEADER) or _form_field(headers, body, CSRF_FIELD)):
                return await _plain(send, 403, "refused: the request carries no valid CSRF token; reload the page and try again")
            receive = _replay(body)
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope, headers: dict[str, str], query: dict[str, list[str]]) -> tuple[int, str] | None:
        host = _hostname(headers.get("host", ""))
        if self.guard.loopback and host and not is_loopback(host):
            return 403, f"refused: this dashboard answers to localhost only, not to {host!r}"
        given = (query.get("token") or [None])[0] or _cookie(headers, TOKEN_COOKIE) or _bearer(headers)
        if not self.guard.has_token(given):
            return 401, ("this dashboard needs its access token: open the URL `agentos serve` printed "
                         "(it ends in ?token=...)")
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin and urlsplit(origin).netloc != headers.get("host"):
            return 403, f"refused: a state change from another origin ({origin})"
        return None


def _hostname(host_header: str) -> str:
    return urlsplit(f"//{host_header}").hostname or ""


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header: as if none
        return None
    return jar[name].value if name in jar else None


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _form_field(headers: dict[str, str], body: bytes, name: str) -> str | None:
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    return (parse_qs(body.decode("utf-8", "replace")).get(name) or [None])[0]


async def _read_body(receive: Callable) -> bytes | None:
    """The whole request body (None when it passes MAX_FORM_BYTES)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM_BYTES:
            return None
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Callable:
    """A receive() that hands the app the body the guard already read."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_headers(send: Callable) -> Callable:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
        await send(message)

    return wrapped


async def _plain(send: Callable, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS]})
    await send({"type": "http.response.body", "body": text.encode() + b"\n"})


async def _enter(send: Callable, scope: Scope, query: dict[str, list[str]], token: str) -> None:
    """The token arrived in the URL: keep it in a cookie and drop it from the address bar."""
    rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
    location = scope.get("path", "/") + (f"?{rest}" if rest else "")
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"set-cookie", cookie.encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": b""})
