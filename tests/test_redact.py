"""Secrets stay secret: the redactor, and a key planted in a prompt, an error and an exception."""

from __future__ import annotations

import json

import pytest

from agentos import redact
from agentos.llm.base import Response
from agentos.llm.client import ModelClient
from agentos.llm.journal import CallJournal
from agentos.progress.events import Progress
from agentos.progress.log import JsonlSink
from agentos.workflows.services import provider_env
from tests.helpers.llm import Waits, ask

KEY = "sk-ant-api03-planted-secret-value"


def test_redactor_masks_secret_variables_only():
    r = redact.Redactor.from_env({"ANTHROPIC_API_KEY": KEY, "GH_TOKEN": "ghp_abcdefgh12345", "HOME": "/home/someone",
                                  "SHORT_TOKEN": "abc"})
    text = f"key={KEY} token=ghp_abcdefgh12345 home=/home/someone abc"
    assert r.redact(text) == "key=[REDACTED:ANTHROPIC_API_KEY] token=[REDACTED:GH_TOKEN] home=/home/someone abc"
    quoted = json.dumps({"v": 'pa"ss\\word-secret'})
    assert 'pa' not in redact.Redactor.from_env({"DB_PASSWORD": 'pa"ss\\word-secret'}).redact(quoted)


def test_module_redact_follows_the_environment_and_remembered_dotenv(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-from-environment")
    assert redact.redact("x sk-proj-from-environment") == "x [REDACTED:OPENAI_API_KEY]"
    (tmp_path / ".env").write_text("GEMINI_API_KEY=AIza-from-dotenv-file\nOPENAI_API_KEY=sk-proj-overridden\n")
    env = provider_env(tmp_path)
    assert env["GEMINI_API_KEY"] == "AIza-from-dotenv-file"
    assert env["OPENAI_API_KEY"] == "sk-proj-from-environment"  # a real variable wins over .env
    assert redact.redact("AIza-from-dotenv-file") == "[REDACTED:GEMINI_API_KEY]"


class Echo:
    model_id = "claude:opus-4.5"

    def __init__(self):
        self.seen = []

    def complete(self, request):
        self.seen.append(request)
        return Response(text=f"you said: {request.messages[0].content}")


def test_a_key_planted_in_a_prompt_reaches_neither_the_model_nor_the_logs(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    model = Echo()
    progress = Progress("run", [JsonlSink(tmp_path / "events.jsonl", redact=redact.redact)])
    client = ModelClient(model, CallJournal(tmp_path / "calls.jsonl"), progress, stage="triage")
    response = client.complete(ask(f"the issue says: my key is {KEY}", purpose="triage.draft"))
    progress.emit("note", message=f"debugging {KEY}")
    progress.close()
    assert KEY not in model.seen[0].model_dump_json() and "[REDACTED:ANTHROPIC_API_KEY]" in model.seen[0].messages[0].content
    assert KEY not in response.text
    for name in ("calls.jsonl", "events.jsonl"):
        assert KEY not in (tmp_path / name).read_text()
    assert "[REDACTED:ANTHROPIC_API_KEY]" in (tmp_path / "events.jsonl").read_text()


def test_a_key_inside_an_sdk_exception_is_redacted_from_the_error(monkeypatch):
    from agentos.llm.retry import CallInfo, call_with_retries

    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-inside-an-exception")

    class APIConnectionError(Exception):
        pass

    def attempt(_):
        raise APIConnectionError("could not reach https://proxy/?key=sk-proj-inside-an-exception")

    info = CallInfo("openai:gpt-5", "spec.review", "check OPENAI_API_KEY", "providers.openai")
    with pytest.raises(Exception) as caught:
        call_with_retries(attempt, ask(), Waits().policy(max_attempts=1), info, lambda u: 0.0)
    assert "sk-proj-inside-an-exception" not in str(caught.value)
    assert "[REDACTED:OPENAI_API_KEY]" in str(caught.value)


@pytest.mark.parametrize("token,name", [
    ("ghp_" + "a1B2" * 9, "github-token"),
    ("github_pat_" + "11ABCDEFG0" * 5 + "_xyz", "github-token"),
    ("sk-ant-api03-" + "Ab3_-" * 8, "anthropic-key"),
    ("sk-proj-" + "Zz9" * 16, "openai-key"),
    ("AKIA" + "ABCDEFGHIJ234567", "aws-access-key"),
    ("AIza" + "Sy" + "x" * 33, "google-api-key"),
])
def test_tokens_of_well_known_formats_are_masked_whoever_they_belong_to(token, name):
    assert redact.redact(f"pasted {token} here") == f"pasted [REDACTED:{name}] here"


def test_ordinary_text_that_looks_a_little_like_a_token_is_kept():
    text = "the ghp_ prefix, sk-ant- keys, AKIA1234 and sk-proj-test-0123456789abcdef are named here"
    assert redact.redact(text) == text
