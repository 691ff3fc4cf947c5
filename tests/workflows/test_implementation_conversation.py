"""The implementer's prompt is bounded: what later messages supersede is elided, the files in work stay whole."""

from __future__ import annotations

import copy
import json

from agentos.llm.base import Message, ToolCall
from agentos.workflows.implementation.conversation import prompt_messages

FILE_V1 = "def clamp(x, lo, hi):\n    return max(lo, x)\n" * 200
FILE_V2 = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n" * 200
TEST_OUTPUT = "1 passed, 1 failed, 0 errors in 0.1s\n" + "E   assert 11 == 10\n" * 300


def ask(call_id: str, name: str, **arguments) -> dict:
    return Message(role="assistant", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)]).model_dump()


def result(call_id: str, content: str) -> dict:
    return Message(role="tool", tool_call_id=call_id, content=content).model_dump()


def user(content: str) -> dict:
    return Message(role="user", content=content).model_dump()


def conversation() -> list[dict]:
    return [
        user("the task and the documents"),
        ask("1", "read_file", path="calc/ops.py"), result("1", FILE_V1),
        ask("2", "search_text", pattern="clamp"), result("2", "calc/ops.py:1: def clamp\n" * 50),
        ask("3", "run_tests"), result("3", TEST_OUTPUT),
        ask("4", "write_file", path="tests/test_ops.py", content="first draft\n" * 300), result("4", "wrote"),
        ask("5", "write_file", path="./tests/test_ops.py", content="second draft\n"), result("5", "wrote"),
        ask("6", "finish"), result("6", "ok, running the tests"),
        user("The tests do not pass yet:\n" + TEST_OUTPUT),
        ask("7", "read_file", path="calc/ops.py"), result("7", FILE_V2),
        ask("8", "run_tests"), result("8", TEST_OUTPUT),
    ]


def test_superseded_reads_writes_runs_and_old_searches_are_elided_and_the_latest_kept_whole():
    sent = prompt_messages(conversation())
    by_id = {m.tool_call_id: m.content for m in sent if m.role == "tool"}

    assert sent[0].content == "the task and the documents"
    assert by_id["1"].startswith("[read_file calc/ops.py:") and "later read or write" in by_id["1"]
    assert by_id["7"] == FILE_V2  # the file in work, whole
    assert by_id["3"] == "[run_tests: 1 passed, 1 failed, 0 errors in 0.1s (output elided: a later test run is below)]"
    assert by_id["8"] == TEST_OUTPUT  # the latest run, in the current round
    assert by_id["2"].startswith("[search_text clamp: 50 lines, elided (an earlier round)")
    writes = [c for m in sent if m.role == "assistant" for c in m.tool_calls if c.name == "write_file"]
    assert "elided" in writes[0].arguments["content"] and writes[1].arguments["content"] == "second draft\n"
    assert sent[13].content.startswith("The tests do not pass yet:")  # the current round's feedback, whole
    assert sent[13].content.endswith(TEST_OUTPUT)


def test_the_state_is_untouched_and_the_same_state_gives_the_same_prompt():
    state = conversation()
    before = copy.deepcopy(state)
    first = [m.model_dump() for m in prompt_messages(state)]
    assert state == before
    assert json.dumps(first) == json.dumps([m.model_dump() for m in prompt_messages(copy.deepcopy(state))])


def test_a_long_round_stays_near_the_size_of_its_first_call():
    state = [user("the task and the documents\n" * 200)]
    sizes = []
    for step in range(12):
        sizes.append(sum(len(m.model_dump_json()) for m in prompt_messages(state)))
        name = ("read_file", "run_tests", "write_file")[step % 3]
        args = {"path": "calc/ops.py", "content": FILE_V2} if name == "write_file" else (
            {"path": "calc/ops.py"} if name == "read_file" else {})
        said = {"read_file": FILE_V1, "run_tests": TEST_OUTPUT, "write_file": "wrote calc/ops.py"}[name]
        state += [ask(str(step), name, **args), result(str(step), said)]
    assert max(sizes) <= 2 * sizes[1]  # the first call that has a file in it
    whole = sum(len(json.dumps(m)) for m in state)
    assert whole > 3 * max(sizes)  # the state itself keeps everything
