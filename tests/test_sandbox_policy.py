"""The sandbox's policies, configuration and refusal notes, and the bubblewrap backend on its own."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from agentos.config import AgentosConfig, SandboxConfig, load_config
from agentos.process import run_bounded
from agentos.sandbox import SandboxUnavailable, from_config, refusal_note, report
from agentos.sandbox.policy import Limits, for_setup, for_tests

def needs_bwrap(test):
    """A test that starts real bubblewrap."""
    skip = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
    return pytest.mark.real_component(skip(test))


@pytest.mark.parametrize("text", ["off", "false", "{backend: off}"])
def test_sandbox_off_is_accepted_in_each_spelling(tmp_path, text):
    (tmp_path / ".agentos").mkdir()
    (tmp_path / ".agentos" / "config.yaml").write_text(f"orchestrator:\n  sandbox: {text}\n")
    assert load_config(tmp_path).config.sandbox.backend == "off"


def test_unknown_sandbox_keys_and_backends_are_refused():
    with pytest.raises(Exception):
        AgentosConfig.model_validate({"orchestrator": {"sandbox": {"backend": "docker"}}})
    with pytest.raises(Exception):
        AgentosConfig.model_validate({"orchestrator": {"sandbox": {"network": True}}})


def test_the_environment_is_an_allowlist(tmp_path):
    policy = for_tests(tmp_path, Limits(512, 64), env_names=("DATABASE_URL",))
    ours = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "GITHUB_TOKEN": "ghp_x", "OPENAI_API_KEY": "sk",
            "DATABASE_URL": "postgres://", "HOME": "/home/u", "SSH_AUTH_SOCK": "/run/agent"}
    env = policy.environment(ours, {"VIRTUAL_ENV": "/wt/.venv"})
    assert set(env) == {"PATH", "LANG", "LC_ALL", "DATABASE_URL", "HOME", "TMPDIR", "VIRTUAL_ENV"}


def test_where_the_network_is_shared_the_machines_ca_bundle_and_proxies_are_too(tmp_path):
    """A TLS-inspecting proxy's CA bundle (SSL_CERT_FILE) and proxy settings: without them uv cannot
    reach the package index; test runs, which have no network, never see them."""
    ours = {"PATH": "/usr/bin", "SSL_CERT_FILE": "/etc/ssl/ca.crt", "HTTPS_PROXY": "http://proxy:3128",
            "PIP_INDEX_URL": "https://pypi.example/simple", "GITHUB_TOKEN": "ghp_x"}
    setup = for_setup(tmp_path, Limits(512, 64), tmp_path / "cache").environment(ours, {})
    assert {"SSL_CERT_FILE", "HTTPS_PROXY", "PIP_INDEX_URL"} <= set(setup) and "GITHUB_TOKEN" not in setup
    offline = for_setup(tmp_path, Limits(512, 64), tmp_path / "cache", network=False).environment(ours, {})
    tests = for_tests(tmp_path, Limits(512, 64)).environment(ours, {})
    assert not {"SSL_CERT_FILE", "HTTPS_PROXY", "PIP_INDEX_URL", "GITHUB_TOKEN"} & (set(offline) | set(tests))


def test_a_missing_bwrap_refuses_with_the_fix_and_the_opt_out(tmp_path):
    with pytest.raises(SandboxUnavailable) as refused:
        from_config(SandboxConfig(bwrap=str(tmp_path / "no-bwrap")))
    assert refused.value.exit_code == 2
    assert "apt-get install bubblewrap" in str(refused.value) and "sandbox: off" in str(refused.value)
    assert "a run would refuse (exit 2)" in report(SandboxConfig(bwrap=str(tmp_path / "no-bwrap")), tmp_path)[0]
    assert from_config(SandboxConfig(backend="off", bwrap=str(tmp_path / "no-bwrap"))).off


@needs_bwrap
def test_refusals_in_the_output_become_a_note_for_the_implementer(tmp_path):
    confine = from_config(SandboxConfig(memory_mb=256, processes=32)).tests(tmp_path)
    note = refusal_note("OSError: [Errno 30] Read-only file system: '/x'\nConnection refused", confine)
    assert "a write outside the worktree" in note and "a network connection" in note and "256 MB" in note
    assert refusal_note("AssertionError: 1 != 2", confine) is None
    assert refusal_note("Read-only file system", from_config(SandboxConfig(backend="off")).tests(tmp_path)) is None


@needs_bwrap
def test_the_process_limit_holds_as_root_too(tmp_path):
    """RLIMIT_NPROC is not enforced for uid 0 (a user namespace keeps the real uid): as root the
    pids cgroup is what stops a fork bomb."""
    confine = from_config(SandboxConfig(processes=16)).tests(tmp_path)
    script = ("import subprocess\nkids = []\ntry:\n    while len(kids) < 500:\n"
              "        kids.append(subprocess.Popen(['sleep', '20']))\nexcept OSError as exc:\n    print(exc)\n"
              "print('STARTED', len(kids))\n[k.kill() for k in kids]\n")
    if os.geteuid() == 0 and "pids cgroup" not in confine.backend.limits_note():
        pytest.skip("as root without a writable pids cgroup only wall time bounds processes")
    run = run_bounded([sys.executable, "-c", script], tmp_path, 60, head_chars=2000, tail_chars=2000, confine=confine)
    out = run.clipped(2000)
    assert "Resource temporarily unavailable" in out and int(out.split("STARTED")[1].split()[0]) < 16


@needs_bwrap
def test_the_worktree_is_writable_and_its_venv_and_the_rest_are_not(tmp_path):
    wt = tmp_path / "wt"
    (wt / ".venv").mkdir(parents=True)
    confine = from_config(SandboxConfig()).tests(wt)
    run = run_bounded("echo ok > made.txt; echo x > .venv/f 2>&1; echo x > $HOME/f; ls -A $HOME; echo home=$HOME;"
                      f" ls {tmp_path}", wt, 30, head_chars=4000, tail_chars=4000, confine=confine)
    out = run.clipped(4000)
    assert (wt / "made.txt").read_text() == "ok\n"
    assert not (wt / ".venv" / "f").exists() and "Read-only file system" in out
    assert not (Path.home() / "f").exists() and f"home={Path.home()}" in out
    assert out.strip().endswith("wt")  # the worktree's parent shows only the worktree


@needs_bwrap
def test_tools_may_write_their_cache_inside_node_modules_but_not_the_packages(tmp_path):
    """nyc (and babel, eslint) write node_modules/.cache: private to the run, the packages stay
    read-only and nothing the run wrote there is left in the worktree."""
    wt = tmp_path / "wt"
    (wt / "node_modules" / "tape").mkdir(parents=True)
    confine = from_config(SandboxConfig()).tests(wt)
    run = run_bounded("mkdir -p node_modules/.cache/nyc && echo c > node_modules/.cache/nyc/x && echo cached;"
                      " echo x > node_modules/tape/f 2>&1", wt, 30, head_chars=4000, tail_chars=4000, confine=confine)
    out = run.clipped(4000)
    assert "cached" in out and "Read-only file system" in out
    assert not (wt / "node_modules" / "tape" / "f").exists()
    assert list((wt / "node_modules" / ".cache").iterdir()) == []


@needs_bwrap
def test_an_agent_cli_gets_its_own_config_read_only_its_own_key_and_the_network(tmp_path, monkeypatch):
    from agentos.llm.clis import CLIS

    home, wt = tmp_path / "home", tmp_path / "wt"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text("{}")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("KEY")
    wt.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-own")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    cli = CLIS["claude-code"]
    confine = from_config(SandboxConfig()).agent(wt, "sh", cli.config_paths, cli.own_keys)
    assert confine.policy.network
    run = run_bounded("cat ~/.claude/settings.json; echo x >> ~/.claude/settings.json; ls -A ~; "
                      "echo key=$ANTHROPIC_API_KEY other=$OPENAI_API_KEY", wt, 30, head_chars=4000, tail_chars=4000,
                      confine=confine)
    out = run.clipped(4000)
    assert out.startswith("{}") and "Read-only file system" in out
    assert (home / ".claude" / "settings.json").read_text() == "{}"
    assert ".ssh" not in out and "key=sk-ant-own other=" in out and "sk-other" not in out


@needs_bwrap
def test_a_token_in_the_repositorys_git_config_is_not_readable_inside(tmp_path):
    from agentos.repo.worktrees import ensure_worktree
    from tests.helpers.repos import git, make_repo

    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", "https://x-access-token:ghp_SECRETSECRET@github.com/o/r.git")
    git(repo, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0")
    wt = ensure_worktree(repo, tmp_path / "wt", "agentos/issue-1", "main")
    confine = from_config(SandboxConfig()).tests(wt)
    run = run_bounded(f"cat {repo}/.git/config; git status --short --branch; git log --oneline | wc -l", wt, 30,
                      head_chars=8000, tail_chars=8000, confine=confine)
    out = run.clipped(8000)
    assert "SECRETSECRET" not in out and "c2VjcmV0" not in out and "[core]" in out
    assert "## agentos/issue-1" in out and run.exit_code == 0  # git still reads the worktree
    assert "ghp_SECRETSECRET" in (repo / ".git" / "config").read_text()  # the real file is untouched
