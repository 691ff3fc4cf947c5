"""The dashboard's guard: the access token beyond loopback, CSRF and origin on every state change,
and loopback servers answering to loopback names only."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.web.guard import Guard, is_loopback
from tests.web.conftest import client_for


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.4", False),
                                            ("::", False), ("example.org", False)])
def test_which_hosts_are_loopback(host: str, loopback: bool):
    assert is_loopback(host) is loopback
    assert (Guard.for_host(host).token is None) is loopback


def test_beyond_loopback_every_request_needs_the_token(shown_repo: Path):
    client, dash = client_for(shown_repo, host="0.0.0.0")
    token = dash.guard.token

    for url in ("/", "/issues/1", "/api/runs", "/issues/1/events", "/static/style.css"):
        refused = client.get(url)
        assert refused.status_code == 401 and "access token" in refused.text, url
    assert client.get("/", params={"token": "wrong"}).status_code == 401
    assert client.get("/api/runs", headers={"authorization": "Bearer wrong"}).status_code == 401

    entered = client.get("/issues/1", params={"token": token})
    assert entered.status_code == 303 and entered.headers["location"] == "/issues/1"
    assert "HttpOnly" in entered.headers["set-cookie"] and "SameSite=Strict" in entered.headers["set-cookie"]
    assert client.get("/issues/1").status_code == 200  # the cookie carries it from now on
    assert client.get("/api/runs", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_beyond_loopback_a_state_change_needs_the_token_and_the_csrf_token(paused_repo: Path):
    client, dash = client_for(paused_repo, host="0.0.0.0")
    form = {"gate": "after_lld", "action": "reject", "feedback": "more detail"}

    assert client.post("/issues/1/gate", data={**form, "csrf": dash.guard.csrf}).status_code == 401
    client.cookies.set("agentos_token", dash.guard.token)
    no_csrf = client.post("/issues/1/gate", data=form)
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    assert client.post("/issues/1/gate", data={**form, "csrf": "forged"}).status_code == 403
    foreign = client.post("/issues/1/gate", data={**form, "csrf": dash.guard.csrf},
                          headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403 and "another origin" in foreign.text
    assert not list((paused_repo / ".agentos" / "runs").glob("*/decision.json"))

    by_header = client.post("/issues/1/gate", data=form, headers={"x-csrf-token": dash.guard.csrf,
                                                                  "origin": "http://0.0.0.0:8765"})
    assert by_header.status_code == 303
    assert list((paused_repo / ".agentos" / "runs").glob("*/decision.json"))


def test_on_loopback_state_changes_still_need_the_csrf_token_and_foreign_host_names_are_refused(paused_repo: Path):
    client, dash = client_for(paused_repo)

    assert client.get("/").status_code == 200  # no token on loopback
    assert client.post("/issues/1/gate", data={"gate": "after_lld", "action": "approve"}).status_code == 403
    rebound = client.get("/", headers={"host": "attacker.example:8765"})
    assert rebound.status_code == 403 and "localhost only" in rebound.text
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200
