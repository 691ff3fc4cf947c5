"""The built-in implementer: a model with file tools, one graph step per model call.

agent makes one model call (the run's shared prefix, then the stage's conversation) and
appends its reply to the conversation; tools runs the calls
the reply asked for and appends their results. The state keeps the whole conversation; each
call sends it bounded (see conversation.py). A round ends when the model calls `finish` or
reaches the round's step, token or cost limit; then the tests judge it.
"""

from __future__ import annotations

from typing import Any

from agentos.llm.base import Message, Request
from agentos.workflows.implementation.conversation import prompt_messages
from agentos.workflows.implementation.red import write_guard
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.tools import WorktreeTools, describe
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.prefix import SYSTEM, TOOLS

TOOL_REPORT_CHARS = 6000


def agent(wt: StageWorktree, state: ImplState) -> ImplState:
    purpose = f"{wt.stage}.{state['phase']}"
    turn = state.get("turns", {}).get(purpose, 0)
    shared = wt.shared_prefix
    conversation = prompt_messages(state["messages"])
    request = Request(system=SYSTEM, messages=[*shared, *conversation], tools=TOOLS, purpose=purpose,
                      turn=turn, cache_after=[len(shared) - 1, len(shared), len(shared) + len(conversation) - 1])
    client = wt.services.models.client(wt.stage, wt.cfg.implementer, state.get("attempt", 1))
    reply = client.complete(request)
    message = Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls)
    return {"messages": [message.model_dump()], "turns": {purpose: turn + 1},
            "step": state.get("step", 0) + 1, "round_steps": state.get("round_steps", 0) + 1,
            "round_tokens": state.get("round_tokens", 0) + reply.usage.input_tokens + reply.usage.output_tokens,
            "round_cost": state.get("round_cost", 0.0) + reply.cost_usd}


def tools(wt: StageWorktree, state: ImplState) -> ImplState:
    kit = WorktreeTools(wt.root, lambda: _test_report(wt, state), state.get("allowed_paths", []), write_guard(state))
    results, refused = [], 0
    for call in last_reply(state).tool_calls:
        text, was_refused = kit.execute(call)
        refused += was_refused
        _log_tool(wt, state, call, text, was_refused)
        results.append(Message(role="tool", tool_call_id=call.id, content=text).model_dump())
    if not finished(state) and (limit := round_limit(wt, state)):
        wt.note(f"{state['phase']} round ended: {limit}")
    return {"messages": results, "refused": state.get("refused", 0) + refused}


def last_reply(state: ImplState) -> Message:
    """The model's last reply in the conversation."""
    return Message.model_validate(next(m for m in reversed(state["messages"]) if m["role"] == "assistant"))


def wants_tools(state: ImplState) -> bool:
    """Whether the model's last reply asked for tool calls."""
    return bool(last_reply(state).tool_calls)


def finished(state: ImplState) -> bool:
    """Whether the model's last reply called `finish`."""
    return any(call.name == "finish" for call in last_reply(state).tool_calls)


def round_limit(wt: StageWorktree, state: ImplState) -> str | None:
    """The round limit the implementer has reached, if any."""
    cfg = wt.cfg
    if state.get("round_steps", 0) >= cfg.max_steps:
        return f"the {cfg.max_steps}-step limit"
    if state.get("round_tokens", 0) >= cfg.max_tokens_per_round:
        return f"the {cfg.max_tokens_per_round:,}-token limit"
    if state.get("round_cost", 0.0) >= cfg.max_cost_per_round_usd:
        return f"the ${cfg.max_cost_per_round_usd:.2f} cost limit"
    return None


def _test_report(wt: StageWorktree, state: ImplState) -> str:
    run = wt.run_tests(state)
    return f"{run.summary()}\n{run.output[-TOOL_REPORT_CHARS:]}"


def _log_tool(wt: StageWorktree, state: ImplState, call, result: str, refused: bool) -> None:
    record: dict[str, Any] = {"phase": state["phase"], "step": state.get("step", 0), **describe(call),
                              "refused": refused, "result": result[:500]}
    wt.append("tool-calls.jsonl", record)
    if refused:
        wt.note(f"refused {call.name}: {result}")
