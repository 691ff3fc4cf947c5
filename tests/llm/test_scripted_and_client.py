import json

import pytest
from pydantic import BaseModel

from agentos.errors import ModelCallError, ModelOutputError, ProviderConfigError
from agentos.llm.answers import AnswerTooLong, ModelRefusal
from agentos.llm.base import Message, Request
from agentos.llm.client import ModelClient
from agentos.llm.journal import CallJournal
from agentos.llm.registry import ProviderContext, readiness, resolve
from agentos.llm.scripted import ScriptedProvider
from agentos.progress.events import MemorySink, Progress


class Verdict(BaseModel):
    verdict: str
    score: int


def _req(purpose="x.review", turn=0, text="hello"):
    return Request(system="sys", messages=[Message(role="user", content=text)], purpose=purpose, turn=turn)


def test_replies_picked_by_purpose_and_turn_and_glob():
    p = ScriptedProvider("scripted:t", {"a.draft": [{"text": "one"}, {"text": "two"}], "*.review": [{"text": "r"}]})
    assert p.complete(_req("a.draft", 1)).text == "two"
    assert p.complete(_req("lld.review", 0)).text == "r"
    with pytest.raises(ModelCallError, match="turn 3"):
        p.complete(_req("a.draft", 2))
    with pytest.raises(ModelCallError, match="no replies for 'other'"):
        p.complete(_req("other"))


def test_tool_calls_and_usage_and_call_log(tmp_path):
    log = tmp_path / "calls.jsonl"
    p = ScriptedProvider("scripted:t", {"impl.step": [{"tool_calls": [{"name": "read_file", "arguments": {"path": "a"}}]}]}, log)
    r = p.complete(_req("impl.step"))
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("read_file", {"path": "a"})]
    assert r.usage.input_tokens > 0 and r.stop_reason == "tool_use"
    record = json.loads(log.read_text())
    assert record["purpose"] == "impl.step" and record["messages"][0]["content"] == "hello"


def test_registry_resolves_scripted_from_repo_path(tmp_path):
    (tmp_path / "s.yaml").write_text("replies:\n  a: [{text: hi}]\n")
    ctx = ProviderContext(repo_root=tmp_path, run_dir=tmp_path / "run")
    provider = resolve("scripted:s.yaml", ctx)
    assert provider.complete(_req("a")).text == "hi"
    assert (tmp_path / "run" / "scripted-calls.jsonl").exists()
    assert readiness("scripted:missing.yaml", ctx) and "not found" in readiness("scripted:missing.yaml", ctx)


@pytest.mark.parametrize("model_id,needle", [("nocolon", "provider:model"),
                                              ("warp:drive", "known providers: anthropic, claude")])
def test_registry_rejects_unknown(tmp_path, model_id, needle):
    with pytest.raises(ProviderConfigError, match=needle):
        resolve(model_id, ProviderContext(repo_root=tmp_path))


def test_journal_replays_finished_calls_without_paying_again(tmp_path):
    path = tmp_path / "calls.jsonl"
    first = ScriptedProvider("scripted:t", {"a": [{"text": "answer"}]})
    ModelClient(first, CallJournal(path)).complete(_req("a"))
    # A new process: a fresh provider that would fail if asked, and the journal from disk.
    second = ScriptedProvider("scripted:t", {"a": [{"error": "must not be called"}]})
    sink = MemorySink()
    out = ModelClient(second, CallJournal(path), Progress("r", [sink])).complete(_req("a"))
    assert out.text == "answer" and second.calls == []
    assert sink.events[0].data["cached"] is True
    # A different attempt (salt) is a different call.
    with pytest.raises(ModelCallError):
        ModelClient(second, CallJournal(path), salt="attempt-2").complete(_req("a"))


def test_journal_ignores_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "calls.jsonl"
    ModelClient(ScriptedProvider("scripted:t", {"a": [{"text": "ok"}]}), CallJournal(path)).complete(_req("a"))
    with path.open("a") as fh:
        fh.write('{"key": "abc", "respo')
    assert len(CallJournal(path)._done) == 1
    ModelClient(ScriptedProvider("scripted:t", {"b": [{"text": "next"}]}), CallJournal(path)).complete(_req("b"))
    assert len(CallJournal(path)._done) == 2  # the call after the torn line is not glued to it


def test_structured_retries_once_quoting_the_error_then_fails():
    provider = ScriptedProvider("scripted:t", {
        "x.review": [{"text": "not json"}],
        "x.review.retry": [{"data": {"verdict": "ok", "score": 3}}],
    })
    obj, _ = ModelClient(provider).structured(_req(), Verdict)
    assert obj == Verdict(verdict="ok", score=3)
    retry = provider.calls[1]
    assert "did not match the required JSON schema" in retry.messages[-1].content
    assert retry.output_schema["title"] == "Verdict"

    bad = ScriptedProvider("scripted:t", {"x.review": [{"data": {"verdict": "ok"}}], "x.review.retry": [{"text": "{}"}]})
    with pytest.raises(ModelOutputError, match="twice"):
        ModelClient(bad).structured(_req(), Verdict)
    assert len(bad.calls) == 2


def test_scripted_replies_play_truncation_refusal_fences_and_oversize(tmp_path):
    (tmp_path / "s.yaml").write_text("""replies:
  x.draft:
    - {text: "# Design (cut", stop: length}
  x.draft.longer:
    - {text: "# Design, whole"}
  x.review:
    - {refusal: "I won't review that."}
  y.review:
    - text: "My verdict:\\n```json\\n{\\"verdict\\": \\"ok\\", \\"score\\": 2}\\n```\\nDone."
  z.draft:
    - {text: "x", repeat: 100000}
""")
    provider = resolve("scripted:s.yaml", ProviderContext(repo_root=tmp_path))
    client = ModelClient(provider)
    assert client.complete(_req("x.draft")).text == "# Design, whole"
    assert [(c.purpose, c.max_tokens) for c in provider.calls] == [("x.draft", 8192), ("x.draft.longer", 16384)]
    with pytest.raises(ModelRefusal, match="I won't review that"):
        client.structured(_req("x.review"), Verdict)
    assert client.structured(_req("y.review"), Verdict)[0] == Verdict(verdict="ok", score=2)
    with pytest.raises(AnswerTooLong, match="ran to 100,000 characters"):
        client.complete(_req("z.draft"))
    assert ScriptedProvider("scripted:t", {"a": [{"text": "cut", "stop": "length"}]}).complete(_req("a")).finish == "length"
    with pytest.raises(ProviderConfigError, match="not one of stop, length"):
        ScriptedProvider("scripted:t", {"a": [{"text": "?", "stop": "max_tokens"}]}).complete(_req("a"))


def test_journal_keeps_a_truncated_answer_for_replay_but_never_a_refusal(tmp_path):
    path = tmp_path / "calls.jsonl"
    script = {"a": [{"text": "cut", "stop": "length"}], "a.longer": [{"text": "whole"}], "b": [{"refusal": "no"}]}
    client = ModelClient(ScriptedProvider("scripted:t", script), CallJournal(path))
    assert client.complete(_req("a")).text == "whole"
    with pytest.raises(ModelRefusal):
        client.complete(_req("b"))
    assert [json.loads(line)["response"]["finish"] for line in path.read_text().splitlines()] == ["length", "stop"]
    fresh = ScriptedProvider("scripted:t", {"b": [{"text": "yes"}]})
    resumed = ModelClient(fresh, CallJournal(path))
    assert resumed.complete(_req("a")).text == "whole" and resumed.complete(_req("b")).text == "yes"
    assert [c.purpose for c in fresh.calls] == ["b"]
