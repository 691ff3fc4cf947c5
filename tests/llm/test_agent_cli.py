"""The agent CLIs as text providers, against executable fakes of claude, gemini and codex on PATH."""

from __future__ import annotations

import json
import os

import pytest
from pydantic import BaseModel

from agentos.config import AgentosConfig
from agentos.errors import ProviderConfigError
from agentos.llm.agent_cli import ClaudeCli, CodexCli, GeminiCli
from agentos.llm.base import Message, Usage
from agentos.llm.models import model_info, price_for
from agentos.llm.registry import ProviderContext, readiness, resolve, split_model_id
from agentos.llm.retry import ModelCallFailed
from agentos.llm.settings import ProviderConfig
from tests.helpers.llm import READ_FILE, ask
from tests.llm.fakes.cli import FakeCli, alive, claude_result, codex_events, gemini_result


class Verdict(BaseModel):
    verdict: str


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return {**os.environ, "GITHUB_TOKEN": "ghp_secret_not_for_the_cli", "ANTHROPIC_API_KEY": "sk-ant-for-claude-only"}


def make(cls, model_id, env, waits, **policy):
    provider, _, name = model_id.partition(":")
    return cls(model_id, model_info(provider, name), ProviderConfig(), env, waits.policy(**policy))


def test_claude_answers_text_with_usage_and_its_tools_off(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "claude").plan([claude_result("The answer.")])
    r = make(ClaudeCli, "claude-code:opus-4.5", env, waits).complete(ask("What now?"))
    assert r.text == "The answer." and r.request_id == "sess-1"
    assert r.usage == Usage(input_tokens=120, output_tokens=30, cache_read_tokens=400, cache_write_tokens=50)
    assert r.cost_usd == pytest.approx((120 * 5 + 30 * 25 + 400 * 0.5 + 50 * 6.25) / 1e6)  # from our price table
    [call] = cli.calls()
    argv = call["argv"]
    assert argv[1:4] == ["-p", "--output-format", "json"] and "--disallowedTools" in argv and "Write" in argv
    assert argv[argv.index("--model") + 1] == "claude-opus-4-5-20251101"
    assert argv[argv.index("--system-prompt") + 1] == "You are careful."
    assert "What now?" in call["stdin"] and "You are careful." not in call["stdin"]
    assert "GITHUB_TOKEN" not in call["env"] and "ANTHROPIC_API_KEY" in call["env"]
    assert call["cwd"] != str(tmp_path) and not os.path.exists(call["cwd"])  # a scratch folder, removed


def test_claude_structured_output_uses_its_json_schema_flag(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "claude").plan([claude_result("", structured={"verdict": "APPROVED"})])
    r = make(ClaudeCli, "claude-code:default", env, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "APPROVED"} and r.cost_usd == 0.0123  # unpriced default model: the CLI's figure
    argv = cli.calls()[0]["argv"]
    assert json.loads(argv[argv.index("--json-schema") + 1])["properties"]["verdict"]["type"] == "string"
    assert "--model" not in argv


def test_tool_calls_are_asked_for_as_json_and_normalised(tmp_path, env, waits):
    answer = {"text": "Reading it.", "tool_calls": [{"name": "read_file", "arguments": '{"path": "a.py"}'}]}
    cli = FakeCli(tmp_path, "claude").plan([claude_result("", structured=answer)])
    history = [Message(role="user", content="fix it"),
               Message(role="assistant", tool_calls=[{"id": "cli-0-0", "name": "read_file", "arguments": {"path": "b"}}]),
               Message(role="tool", tool_call_id="cli-0-0", content="old contents")]
    request = ask(tools=[READ_FILE], purpose="impl.step", turn=1).model_copy(update={"messages": history})
    r = make(ClaudeCli, "claude-code:opus-4.5", env, waits).complete(request)
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [("cli-1-0", "read_file", {"path": "a.py"})]
    assert r.text == "Reading it." and r.stop_reason == "tool_use" and r.finish == "tool_calls"
    stdin = cli.calls()[0]["stdin"]
    assert "[called tool read_file (id cli-0-0)" in stdin and "Result of tool call cli-0-0" in stdin
    assert "read_file: Read a file." in stdin


def test_gemini_cli_gets_the_schema_in_the_prompt_and_reports_tokens(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "gemini").plan([gemini_result('```json\n{"verdict": "REVISE"}\n```')])
    r = make(GeminiCli, "gemini-cli:2.5-pro", env, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "REVISE"} and r.model == "gemini-2.5-pro"
    assert r.usage == Usage(input_tokens=200, output_tokens=50, cache_read_tokens=300)
    call = cli.calls()[0]
    assert call["argv"][1:3] == ["--output-format", "json"] and "--prompt" in call["argv"]
    assert "# Instructions\n\nYou are careful." in call["stdin"] and '"verdict"' in call["stdin"]


def test_codex_reads_the_jsonl_events_and_gets_a_strict_schema_file(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "codex").plan([codex_events('{"verdict": "APPROVED"}')])
    r = make(CodexCli, "codex:gpt-5", env, waits).complete(ask(output_schema=Verdict.model_json_schema()))
    assert r.data == {"verdict": "APPROVED"} and r.request_id == "thread-1"
    assert r.usage == Usage(input_tokens=300, output_tokens=70, cache_read_tokens=600)
    argv = cli.calls()[0]["argv"]
    assert argv[1:3] == ["exec", "--json"] and argv[-1] == "-" and "read-only" in argv
    assert "--output-schema" in argv


@pytest.mark.slow  # waits out a timeout
def test_a_hanging_cli_is_killed_with_its_whole_process_group(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "codex").plan([{"hang": True}])
    with pytest.raises(ModelCallFailed, match="process group was killed") as info:
        make(CodexCli, "codex:gpt-5", env, waits, timeout_s=2.0).complete(ask())
    assert "timeout_s" in info.value.hint
    parent, child = cli.pids()
    assert not alive(parent) and not alive(child)


def test_rate_limits_are_retried_and_logins_are_named(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "claude").plan([claude_result("API Error: 429 rate limit exceeded", is_error=True),
                                            claude_result("fine")])
    assert make(ClaudeCli, "claude-code:opus-4.5", env, waits).complete(ask()).text == "fine"
    assert waits == [1.5] and len(cli.calls()) == 2
    FakeCli(tmp_path / "other", "gemini").plan([gemini_result(error={"code": 401, "message": "Not logged in"})])
    env = {**env, "PATH": f"{tmp_path / 'other' / 'bin'}{os.pathsep}{env['PATH']}"}
    with pytest.raises(ProviderConfigError, match="Not logged in") as info:
        make(GeminiCli, "gemini-cli:default", env, waits).complete(ask())
    assert "run `gemini` once in a terminal" in info.value.hint


def test_an_unexplained_failure_is_not_retried(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "codex").plan([{"stderr": "segfault in renderer", "exit": 139}])
    with pytest.raises(ModelCallFailed, match="exited 139 without an answer: segfault"):
        make(CodexCli, "codex:gpt-5", env, waits).complete(ask())
    assert len(cli.calls()) == 1


def test_readiness_and_unknown_models(tmp_path, env):
    ctx = ProviderContext(repo_root=tmp_path, env=env)
    assert "`claude` CLI is not on PATH" in readiness("claude-code:opus-4.5", ctx)
    FakeCli(tmp_path, "claude")
    assert readiness("claude-code:opus-4.5", ctx) is None
    assert "or default" in readiness("claude-code:opus-99", ctx)
    custom = ProviderContext(repo_root=tmp_path, env=env, settings={"codex": {"command": "my-codex"}})
    assert "`my-codex` CLI is not on PATH" in readiness("codex:default", custom)


def test_old_cli_names_stay_accepted_with_their_settings(tmp_path, env, waits):
    ctx = ProviderContext(repo_root=tmp_path, env=env, settings={"codex-cli": {"command": "my-codex"}})
    assert isinstance(resolve("claude-cli:opus-4.5", ctx), ClaudeCli)
    assert split_model_id("codex-cli:gpt-5") == ("codex", "gpt-5")
    assert "`my-codex` CLI is not on PATH" in readiness("codex-cli:default", ctx)
    assert "`my-codex` CLI is not on PATH" in readiness("codex:default", ctx)
    assert price_for("claude-cli:opus-4.5") == price_for("claude-code:opus-4.5") == price_for("claude:opus-4.5")
    cfg = AgentosConfig.model_validate({"orchestrator": {"providers": {"claude-cli": {"command": "/opt/claude"}}}})
    assert cfg.orchestrator.providers["claude-cli"].command == "/opt/claude"
    cli = FakeCli(tmp_path, "claude").plan([claude_result("old name, same CLI")])
    assert make(ClaudeCli, "claude-cli:opus-4.5", env, waits).complete(ask()).text == "old name, same CLI"
    assert cli.calls()[0]["argv"][1:4] == ["-p", "--output-format", "json"]


def test_a_cli_without_a_text_mode_cannot_draft_or_review(tmp_path):
    with pytest.raises(ProviderConfigError, match="aider runs only as the implementer") as info:
        split_model_id("aider:sonnet")
    assert "stages.implementation.implementer" in info.value.hint
    assert "runs only as the implementer" in readiness("aider:sonnet", ProviderContext(repo_root=tmp_path))


def test_a_missing_cli_names_how_to_install_it(tmp_path, env):
    why = readiness("gemini-cli:default", ProviderContext(repo_root=tmp_path, env=env))
    assert "`gemini` CLI is not on PATH (install Gemini CLI (npm install -g @google/gemini-cli)" in why


def test_noise_on_stderr_does_not_spoil_the_answer_on_stdout(tmp_path, env, waits):
    cli = FakeCli(tmp_path, "codex").plan([{**codex_events("all good"), "stderr": "warning: " + "x" * 100000 + "\n"}])
    assert make(CodexCli, "codex:gpt-5", env, waits).complete(ask()).text == "all good"
    assert len(cli.calls()) == 1


def test_a_tool_call_answer_wrapped_in_prose_is_found(tmp_path, env, waits):
    said = ('I will read the file first.\n```json\n{"text": "Reading it.", "tool_calls": '
            '[{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}]}\n```')
    FakeCli(tmp_path, "gemini").plan([gemini_result(said)])
    r = make(GeminiCli, "gemini-cli:2.5-pro", env, waits).complete(ask(tools=[READ_FILE], purpose="impl.step"))
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("read_file", {"path": "a.py"})]
    assert r.text == "Reading it." and r.finish == "tool_calls"
