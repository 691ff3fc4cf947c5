"""Fixtures for the dashboard: a paused run of the demo's sample, and a test client on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.paths import RepoLayout
from tests.helpers.dashboard import paused_sample


@pytest.fixture(scope="module")
def shown_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paused run with hostile text, shared by tests that only read it."""
    return paused_sample(tmp_path_factory.mktemp("web") / "repo", hostile=True)


@pytest.fixture
def paused_repo(tmp_path: Path) -> Path:
    """A paused run of our own, for tests that decide its gate (runs are left to `agentos poll`)."""
    return paused_sample(tmp_path / "repo", dashboard={"continue_runs": "poll"})


def client_for(repo: Path, host: str = "127.0.0.1"):
    """A test client on the dashboard of `repo` as `agentos serve --host HOST` would serve it; and its guard."""
    from starlette.testclient import TestClient

    from agentos.web.app import Dashboard, build_app

    dash = Dashboard.on(RepoLayout(repo), host)
    return TestClient(build_app(dash), base_url=f"http://{host}:8765", follow_redirects=False), dash
