"""The GitHub side of the forge tests: a bare repository as `origin`, and the loopback fake
GitHub serving it, which must have seen only requests GitHub would accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.forge.fake_github import FakeGitHub
from tests.helpers.repos import bare_repo


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """The GitHub repository's git side: a bare repository on disk."""
    return bare_repo(tmp_path / "origin.git")


@pytest.fixture
def fake_github(origin: Path):
    """Start a FakeGitHub on `origin` with the given settings; it is stopped and checked at the end."""
    started: list[FakeGitHub] = []

    def start(**settings) -> FakeGitHub:
        started.append(FakeGitHub(origin=origin, **settings).start())
        return started[-1]
    yield start
    for server in started:
        server.stop()
    assert all(server.problems == [] for server in started), "requests GitHub would not accept in that shape"
