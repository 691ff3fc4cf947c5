"""Fixtures for every test: hermetic git, and the demo's sample repository with scripted models.
Shared helper functions live in tests/helpers/."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.demo import create_sample


GIT_ENV_CLEARED = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                   "EMAIL", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


@pytest.fixture(autouse=True, scope="session")
def hermetic_git(tmp_path_factory: pytest.TempPathFactory):
    """No developer's git config (signing, hooks, templates, identity) reaches any test: one
    global config of our own, with a test identity, and no system config."""
    config = tmp_path_factory.mktemp("gitconfig") / ".gitconfig"
    config.write_text("[user]\n\tname = agentos tests\n\temail = tests@agentos.invalid\n"
                      "[init]\n\tdefaultBranch = main\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in GIT_ENV_CLEARED:
            mp.delenv(var, raising=False)
        yield config


@pytest.fixture(autouse=True, scope="session")
def hermetic_cache(tmp_path_factory: pytest.TempPathFactory):
    """The user cache (where test environments of repositories without .agentos/ are kept)
    is one of the session's own, never the developer's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """The demo's sample repository with issue #1 and scripted models configured."""
    return create_sample(tmp_path / "repo")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (the Debian package), started for this test session and stopped after."""
    from tests.helpers.postgres import Postgres, server_bin

    if server_bin() is None:
        pytest.skip("the PostgreSQL server is not installed (apt-get install postgresql; .ci/run does)")
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()
