"""Provider limits shared by every worker of a batch, against a loopback OpenAI-compatible server
that answers 429 to any call beyond K at once (as a rate-limited provider does)."""

from __future__ import annotations

import pytest

import json
import sqlite3
import threading
import time

import yaml

from tests.helpers.batch import add_issues, demo_titles, run_batch, statuses
from tests.helpers.loopback import LoopbackServer, QuietHandler
from tests.llm.fakes import openai as fake_openai

pytestmark = pytest.mark.slow  # many agentos processes: not in make test-fast


class CappedProvider:
    """Chat Completions on loopback: every answer is `text`, held `hold_s`; past `k` calls in flight, 429.
    With `wait_for_429`, the first accepted call is held until a call has been refused (so the
    test sees a 429 for sure, whatever the timing)."""

    def __init__(self, k: int, text: str, hold_s: float = 0.3, wait_for_429: bool = False):
        self.k, self.text, self.hold_s = k, text, hold_s
        self.contended = threading.Event()
        self.wait_for_429 = wait_for_429
        self.in_flight = self.peak = self.served = self.refused = 0
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._handler(), name="capped-provider")

    @property
    def url(self) -> str:
        return self._http.url + "/v1"

    def __enter__(self) -> CappedProvider:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.read_body()
                with fake._lock:
                    fake.in_flight += 1
                    fake.peak = max(fake.peak, fake.in_flight)
                    over = fake.in_flight > fake.k
                try:
                    if over:
                        reply = fake_openai.error(429, "Rate limit reached", "rate_limit_exceeded", "requests",
                                                  headers={"retry-after": "0.2"})
                        fake.contended.set()
                    else:
                        time.sleep(fake.hold_s)
                        if fake.wait_for_429:
                            fake.contended.wait(30)
                        reply = fake_openai.stream(fake.text)
                    self._send(reply)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                        fake.served += not over
                        fake.refused += over

            def _send(self, reply) -> None:
                if reply.events is None:
                    payload = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.close_connection = True
                self.end_headers()
                for frame in reply.events:
                    self.wfile.write(frame.encode())
                self.wfile.flush()

        return Handler



def _triage_verdict(repo) -> str:
    doc = yaml.safe_load((repo / ".agentos" / "scripted" / "reviewer.yaml").read_text())
    return json.dumps(doc["replies"]["triage.review"][0]["data"])


def _through(server: CappedProvider, concurrency: int) -> tuple[str, ...]:
    """The batch's flags: the triage reviewer is the capped provider, shared at `concurrency`."""
    return ("--workers", "4",
            "--set", "stages.triage.reviewer=openai-compatible:fake-model",
            "--set", f"providers.openai-compatible.base_url={server.url}",
            "--set", "providers.openai-compatible.max_attempts=10",
            "--set", f"batch.limits.openai-compatible.concurrency={concurrency}")


def test_the_batch_stays_under_the_providers_limit(sample_repo):
    add_issues(sample_repo, demo_titles(2))
    with CappedProvider(k=2, text=_triage_verdict(sample_repo)) as server:
        done = run_batch(sample_repo, *_through(server, concurrency=2))
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(statuses(sample_repo).values()) == {"done"}
    assert server.served == 3 and server.refused == 0 and server.peak <= 2


def test_a_429_pauses_the_provider_for_every_worker(sample_repo):
    add_issues(sample_repo, demo_titles(2))
    with CappedProvider(k=1, text=_triage_verdict(sample_repo), wait_for_429=True) as server:
        done = run_batch(sample_repo, *_through(server, concurrency=2))
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(statuses(sample_repo).values()) == {"done"}
    assert server.served == 3 and server.refused >= 1
    [db] = (sample_repo / ".agentos" / "batches").glob("*/limits.db")
    rows = sqlite3.connect(db).execute("SELECT provider FROM pauses").fetchall()
    assert rows == [("openai-compatible",)], "the 429 was noted for every worker to wait out"
