"""Remote URLs, token discovery, the credential helper that hands git the token, and the
factory that picks the forge (auto: GitHub remote + token → GitHub, else local, saying why)."""

from __future__ import annotations

import os
import stat
import sys
import subprocess
from pathlib import Path

import pytest

from agentos.config import OrchestratorConfig
from agentos.errors import ConfigError, UsageError
from agentos.forge.factory import make_forge
from agentos.forge.remote import (GitRemote, RemoteRef, RepoSlug, Token, api_url_for, find_token, host_of_api,
                                  parse_remote, parse_slug)
from agentos.paths import RepoLayout
from tests.helpers.repos import git


@pytest.mark.parametrize("url, host, slug", [
    ("https://github.com/acme/widgets", "github.com", "acme/widgets"),
    ("https://github.com/acme/widgets.git", "github.com", "acme/widgets"),
    ("https://github.com/acme/widgets.git/", "github.com", "acme/widgets"),
    ("https://x-access-token:secret@github.com/acme/widgets.git", "github.com", "acme/widgets"),
    ("http://GitHub.com/acme/my.repo_1", "github.com", "acme/my.repo_1"),
    ("git@github.com:acme/widgets.git", "github.com", "acme/widgets"),
    ("github.com:acme/widgets", "github.com", "acme/widgets"),
    ("ssh://git@github.com/acme/widgets.git", "github.com", "acme/widgets"),
    ("ssh://git@github.com:22/acme/widgets.git", "github.com", "acme/widgets"),
    ("git@ghe.example.com:team/tool.git", "ghe.example.com", "team/tool"),
    ("https://ghe.example.com:8443/team/tool.git", "ghe.example.com:8443", "team/tool"),
])
def test_remote_url_forms(url, host, slug):
    assert parse_remote(url) == RemoteRef(host, parse_slug(slug))


@pytest.mark.parametrize("url", ["/srv/git/widgets.git", "./widgets", "../up/widgets.git", "file:///srv/widgets.git",
                                 "https://github.com/acme", "https://gitlab.com/group/sub/project.git",
                                 "ftp://github.com/acme/widgets", "C:/repos/widgets"])
def test_non_github_remotes_are_not_parsed(url):
    assert parse_remote(url) is None


def test_slug_validation():
    assert parse_slug("acme/widgets.git") == RepoSlug("acme", "widgets")
    for bad in ("acme", "acme/widgets/extra", "-acme/widgets", "acme/wid gets", ""):
        with pytest.raises(ConfigError, match="owner/name"):
            parse_slug(bad)


def test_api_urls_for_github_and_enterprise():
    assert api_url_for("github.com") == "https://api.github.com"
    assert api_url_for("ghe.example.com") == "https://ghe.example.com/api/v3"
    assert host_of_api("https://api.github.com/") == "github.com"
    assert host_of_api("https://ghe.example.com:8443/api/v3") == "ghe.example.com:8443"


def test_token_value_is_never_in_its_repr():
    token = Token("ghp_secret", "GITHUB_TOKEN")
    assert "ghp_secret" not in repr(token) and "GITHUB_TOKEN" in repr(token)


@pytest.fixture
def fake_gh(tmp_path: Path) -> Path:
    """A `gh` on PATH that prints a token and records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gh"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/gh-args\necho gho_from_gh\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_token_order_github_token_then_gh_token_then_gh(fake_gh, tmp_path):
    path = {"PATH": f"{fake_gh}:{os.environ['PATH']}"}
    assert find_token("github.com", {**path, "GITHUB_TOKEN": " a ", "GH_TOKEN": "b"}) == Token("a", "GITHUB_TOKEN")
    assert find_token("github.com", {**path, "GITHUB_TOKEN": "", "GH_TOKEN": "b"}) == Token("b", "GH_TOKEN")
    assert find_token("github.com", path) == Token("gho_from_gh", "`gh auth token`")
    assert (tmp_path / "gh-args").read_text().split() == ["auth", "token"]
    find_token("ghe.example.com", path)
    assert (tmp_path / "gh-args").read_text().split() == ["auth", "token", "--hostname", "ghe.example.com"]


def test_no_token_without_variables_or_gh(tmp_path):
    assert find_token("github.com", {"PATH": str(tmp_path)}) is None


def _credential(env: dict[str, str], host: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "credential", "fill"], input=f"protocol=https\nhost={host}\n\n", cwd=cwd,
                          env=env, capture_output=True, text=True)


def test_credential_helper_gives_the_token_to_the_github_host_only(tmp_path):
    git(tmp_path, "init", "-q")
    remote = GitRemote(tmp_path, "origin", "github.com", Token("ghp_secret", "GITHUB_TOKEN"))
    env = remote._env()
    answer = _credential(env, "github.com", tmp_path)
    assert "username=x-access-token" in answer.stdout and "password=ghp_secret" in answer.stdout
    elsewhere = _credential(env, "evil.example.com", tmp_path)
    assert "ghp_secret" not in elsewhere.stdout + elsewhere.stderr
    assert "ghp_secret" not in " ".join(f"{k}={v}" for k, v in env.items() if k != "AGENTOS_GIT_TOKEN")


def test_git_errors_are_scrubbed_of_the_token_and_url_credentials(tmp_path):
    remote = GitRemote(tmp_path, "origin", "github.com", Token("ghp_secret", "GITHUB_TOKEN"))
    text = remote.scrub("fatal: https://bob:ghp_secret@github.com/acme/x.git and ghp_secret")
    assert "ghp_secret" not in text and "https://***@github.com" in text


def test_transient_git_failures_are_retried_then_explained(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "origin", "https://127.0.0.1:9/acme/x.git")
    waits: list[float] = []
    remote = GitRemote(tmp_path, "origin", "127.0.0.1:9", None, sleep=waits.append)
    with pytest.raises(Exception) as caught:
        remote.head_of("main")
    assert waits == [2.0, 4.0] and "after 3 attempts" in str(caught.value)
    assert "continues where it stopped" in caught.value.hint


# ------------------------------------------------------------------ the factory


def _repo(tmp_path: Path, remote: str | None) -> RepoLayout:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    if remote:
        git(root, "remote", "add", "origin", remote)
    return RepoLayout(root)


def test_auto_without_a_remote_is_local_and_says_why(tmp_path):
    forge = make_forge(OrchestratorConfig(), _repo(tmp_path, None), {"PATH": ""})
    assert forge.name == "local" and "no remote 'origin'" in forge.summary


def test_auto_with_github_remote_but_no_token_is_local_naming_the_variable(tmp_path):
    forge = make_forge(OrchestratorConfig(), _repo(tmp_path, "git@github.com:acme/widgets.git"), {"PATH": ""})
    assert forge.name == "local" and "GITHUB_TOKEN" in forge.summary and "github.com/acme/widgets" in forge.summary


def test_auto_with_github_remote_and_token_is_github(tmp_path):
    forge = make_forge(OrchestratorConfig(), _repo(tmp_path, "https://github.com/acme/widgets.git"),
                       {"GH_TOKEN": "t", "PATH": ""})
    assert forge.name == "github" and forge.summary == "github acme/widgets (token from GH_TOKEN)"
    assert forge.base_url == "https://api.github.com"


def test_auto_with_a_non_github_remote_is_local(tmp_path):
    forge = make_forge(OrchestratorConfig(), _repo(tmp_path, "https://gitlab.com/acme/widgets.git"),
                       {"GITHUB_TOKEN": "t", "PATH": ""})
    assert forge.name == "local" and "is not a GitHub repository" in forge.summary


def test_enterprise_host_from_base_url(tmp_path):
    config = OrchestratorConfig(github={"base_url": "https://ghe.example.com/api/v3"})
    forge = make_forge(config, _repo(tmp_path, "git@ghe.example.com:team/tool.git"), {"GITHUB_TOKEN": "t", "PATH": ""})
    assert forge.name == "github" and forge.base_url == "https://ghe.example.com/api/v3"
    assert forge.git.host == "ghe.example.com"


def test_forge_github_without_token_names_the_variables(tmp_path):
    with pytest.raises(UsageError) as caught:
        make_forge(OrchestratorConfig(forge="github"), _repo(tmp_path, "git@github.com:acme/widgets.git"), {"PATH": ""})
    assert caught.value.exit_code == 2 and "GITHUB_TOKEN" in caught.value.message


def test_forge_github_with_path_remote_needs_a_slug(tmp_path):
    with pytest.raises(ConfigError, match="repository is unknown") as caught:
        make_forge(OrchestratorConfig(forge="github"), _repo(tmp_path, "/srv/git/x.git"), {"GITHUB_TOKEN": "t"})
    assert "--repo-slug" in caught.value.hint
    forge = make_forge(OrchestratorConfig(forge="github", github={"repo_slug": "acme/x"}),
                       RepoLayout(tmp_path / "repo"), {"GITHUB_TOKEN": "t"})
    assert forge.name == "github" and str(forge.slug) == "acme/x"


def test_forge_local_is_local_whatever_the_remote(tmp_path):
    forge = make_forge(OrchestratorConfig(forge="local"), _repo(tmp_path, "git@github.com:a/b.git"), {"GITHUB_TOKEN": "t"})
    assert forge.name == "local" and forge.summary == "local (.agentos/issues)"


def test_choosing_the_local_forge_imports_no_githubkit(tmp_path):
    """`--dry-run` and `--help` stay fast: githubkit is imported only when GitHub is used."""
    layout = _repo(tmp_path, "git@github.com:acme/widgets.git")
    code = ("import sys\nfrom pathlib import Path\nfrom agentos.config import OrchestratorConfig\n"
            "from agentos.forge.factory import make_forge\nfrom agentos.paths import RepoLayout\n"
            "forge = make_forge(OrchestratorConfig(), RepoLayout(Path(sys.argv[1])), {'PATH': ''})\n"
            "assert forge.name == 'local', forge.summary\n"
            "assert not [m for m in sys.modules if m.startswith(('githubkit', 'httpx'))], 'imported'\n")
    proc = subprocess.run([sys.executable, "-c", code, str(layout.root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
