"""`agentos doctor`: per configured model, key / SDK or CLI / endpoint / price, and --online."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from agentos.cli.main import app
from agentos.commands.doctor import run_doctor
from tests.helpers.repos import git
from tests.helpers.sample import edit_config
from tests.llm.fakes import anthropic as fake


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reports_each_model_without_revealing_keys(sample_repo, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with fake.server() as srv:
        edit_config(sample_repo, stages={"lld": {"drafter": "claude:sonnet-4.6", "reviewer": "ollama:qwen3"},
                                         "spec": {"reviewer": "openai:gpt-5"}},
                    providers={"anthropic": {"base_url": srv.url},
                               "ollama": {"base_url": f"http://127.0.0.1:{_closed_port()}/v1"}})
        report, ready = run_doctor(sample_repo, online=False)
    assert not ready and fake.KEY not in report
    claude = report.split("claude:sonnet-4.6")[1].split("\n\n")[0]
    assert "ok    key       ANTHROPIC_API_KEY is set (from the environment)" in claude
    assert "ok    endpoint  127.0.0.1:" in claude and "$3/$15 per M tokens" in claude
    ollama = report.split("ollama:qwen3")[1].split("\n\n")[0]
    assert "none needed" in ollama and "FAIL  endpoint" in ollama and "no per-token cost" in ollama
    openai = report.split("openai:gpt-5")[1].split("\n\n")[0]
    assert "FAIL  key       set OPENAI_API_KEY" in openai
    assert "scripted:.agentos/scripted/drafter.yaml" in report  # the other stages' models too


def test_online_makes_a_one_token_call(sample_repo, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.KEY)
    with fake.server() as srv:
        srv.push(fake.stream("OK", use=fake.usage(12, 1)))
        edit_config(sample_repo, stages={"triage": {"drafter": "claude:haiku-4.5"}},
                    providers={"anthropic": {"base_url": srv.url}})
        report, ready = run_doctor(sample_repo, online=True)
        assert ready, report
        assert srv.requests[0].body["max_tokens"] == 1
    assert "ok    ping      answered in" in report and "req_fake_1" in report


def test_a_committed_dotenv_fails_and_the_exit_code_says_so(sample_repo):
    (sample_repo / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-committed-by-mistake\n")
    result = CliRunner().invoke(app, ["doctor", "--repo", str(sample_repo)])
    assert result.exit_code == 0 and "present but not git-ignored" in result.output
    git(sample_repo, "add", "-f", ".env")
    git(sample_repo, "commit", "-qm", "oops")
    result = CliRunner().invoke(app, ["doctor", "--repo", str(sample_repo)])
    assert result.exit_code == 2 and ".env      is committed" in result.output
    assert "sk-ant-committed-by-mistake" not in result.output


def test_shows_the_test_command_and_why_and_warns_when_none_is_found(sample_repo, tmp_path):
    report, _ = run_doctor(sample_repo, online=False)
    assert "  ok    tests     {python} -m unittest discover -v -s tests -t . (unittest:" in report
    assert "  ok    test env  .venv made with" in report
    (sample_repo / "tests" / "test_slug.py").unlink()
    git(sample_repo, "commit", "-qam", "no tests")
    report, _ = run_doctor(sample_repo, online=False)
    assert "  warn  tests     none detected (no test command could be detected" in report
    assert "stages.implementation.test_command" in report


def test_doctor_shows_the_sandbox_and_what_it_allows(sample_repo):
    import shutil

    report, _ = run_doctor(sample_repo, online=False)
    if shutil.which("bwrap"):
        assert "ok    sandbox   bubblewrap" in report and "network: none" in report and "private: /tmp" in report
    off, _ = run_doctor(sample_repo, online=False, sets=["sandbox=off"])
    assert "warn  sandbox   off - code the model wrote runs with your environment" in off
    missing, _ = run_doctor(sample_repo, online=False, sets=["sandbox.bwrap=/nonexistent/bwrap"])
    assert "FAIL  sandbox   none available" in missing and "apt-get install bubblewrap" in missing
