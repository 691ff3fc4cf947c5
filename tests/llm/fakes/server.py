"""A loopback HTTP server that plays a provider's API from a queue of scripted replies.

Tests push `Reply` objects; each request takes the next one, after the API's own checks
(path, authentication header, required body fields) have passed, as the real service would.
Every request is recorded, so tests can assert what the adapter really sent. Streams are
Server-Sent Events written frame by frame; a reply can stop mid-stream (`hang_after`) to
play an idle connection, until the test ends or `hang_s` passes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from tests.helpers.loopback import LoopbackServer, QuietHandler


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """A JSON body (non-streamed answer or error)."""
    events: list[str] | None = None
    """Server-Sent Event frames, already formatted, for a streamed answer."""
    headers: dict[str, str] = field(default_factory=dict)
    hang_after: int | None = None
    """Send this many frames, then go silent (an idle stream)."""
    hang_s: float = 20.0


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    handled_s: float = 0.0
    """Time the server spent on this request (for the overhead benchmark)."""


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


Check = Callable[["Recorded"], "Reply | None"]
"""The API's own validation: a Reply (an error) when the request is not acceptable."""


class FakeServer:
    def __init__(self, check: Check):
        self.check = check
        self.replies: list[Reply] = []
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._http = LoopbackServer(_handler(self), name="fake-model-api")

    @property
    def url(self) -> str:
        return self._http.url

    def push(self, *replies: Reply) -> FakeServer:
        with self._lock:
            self.replies.extend(replies)
        return self

    def start(self) -> FakeServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self.release.set()  # ends the replies that play an idle stream
        self._http.stop()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            refused = self.check(request)
            return refused if refused is not None else self.reply_for(request)

    def reply_for(self, request: Recorded) -> Reply:
        """The answer to a request the API accepted: the next queued reply (a subclass may compute it)."""
        if not self.replies:
            return Reply(500, {"error": {"message": "fake server: no reply queued"}})
        return self.replies.pop(0)


def _handler(server: FakeServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            started = time.perf_counter()
            raw, headers = self.read_body()
            parts = urlsplit(self.path)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = Recorded("POST", parts.path, parts.query, headers, body)
            reply = server.next_reply(request)
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (an idle-stream test): nothing left to do
            request.handled_s = time.perf_counter() - started

        do_GET = do_POST

        def _send(self, reply: Reply) -> None:
            if reply.events is None:
                payload = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self._headers(reply, "application/json", len(payload))
                self.wfile.write(payload)
                return
            self.send_response(reply.status)
            self._headers(reply, "text/event-stream", None)
            for i, frame in enumerate(reply.events):
                if reply.hang_after is not None and i >= reply.hang_after:
                    server.release.wait(reply.hang_s)
                    return
                self.wfile.write(frame.encode())
                self.wfile.flush()

        def _headers(self, reply: Reply, content_type: str, length: int | None) -> None:
            self.send_header("content-type", content_type)
            if length is None:
                self.send_header("connection", "close")
                self.close_connection = True
            else:
                self.send_header("content-length", str(length))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()

    return Handler
