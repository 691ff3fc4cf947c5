"""The implementer's conversation as the next model call sees it: bounded, whole where it matters.

The state keeps every message (for resume and lineage); each request is built from it here.
What a later message makes stale is replaced by a one-line note: an earlier read or write of a
file that is read or written again further down, a test run that a later run or the tests'
verdict supersedes, search and listing results and the tests' feedback from earlier rounds.
The latest view of each file the model works on stays whole, as do the first message (the
task and the files the LLD lists, as they were) and everything of the current round that
nothing superseded. So a call's prompt stays near the size of its round's first call. (The
run's shared prefix, which agent.py puts before these messages, never changes.) A pure function of the
messages: the same state gives the same prompt, and the call journal replays.
"""

from __future__ import annotations

import posixpath
from typing import Any

from agentos.llm.base import Message, ToolCall

WRITES = ("write_file",)
"""Tool calls whose arguments hold a whole file."""
ROUND_ONLY = ("search_text", "list_dir")
"""Tool results worth keeping only in the round that asked for them."""
FEEDBACK_KEPT_CHARS = 1500
"""Of an earlier round's feedback (a test verdict and its output), the first characters kept."""


def prompt_messages(messages: list[dict[str, Any]]) -> list[Message]:
    """The conversation to send: every message, with what later ones superseded elided."""
    msgs = [Message.model_validate(m) for m in messages]
    calls = {c.id: c for m in msgs if m.role == "assistant" for c in m.tool_calls}
    views = _latest_views(msgs, calls)
    round_start = max((i for i, m in enumerate(msgs) if m.role == "user"), default=0)
    last_run = max((i for i, m in enumerate(msgs) if _call_of(m, calls, "run_tests")), default=-1)
    out = []
    for i, m in enumerate(msgs):
        if m.role == "tool":
            out.append(_tool_result(i, m, calls.get(m.tool_call_id), views, round_start, last_run))
        elif m.role == "assistant":
            out.append(_assistant(i, m, views))
        elif 0 < i < round_start and len(m.content) > FEEDBACK_KEPT_CHARS:
            out.append(m.model_copy(update={"content": m.content[:FEEDBACK_KEPT_CHARS]
                                             + "\n[… the rest elided: a later round's feedback is below]"}))
        else:
            out.append(m)
    return out


def _path(call: ToolCall) -> str:
    return posixpath.normpath(str(call.arguments.get("path", "")))


def _call_of(m: Message, calls: dict[str, ToolCall], name: str) -> bool:
    call = calls.get(m.tool_call_id or "") if m.role == "tool" else None
    return call is not None and call.name == name


def _latest_views(msgs: list[Message], calls: dict[str, ToolCall]) -> dict[str, tuple[int, str]]:
    """Path → (message index, tool call id) of the latest whole view of the file: a read's
    result or a write's arguments."""
    views: dict[str, tuple[int, str]] = {}
    for i, m in enumerate(msgs):
        if _call_of(m, calls, "read_file") and not m.content.startswith(("refused:", "error:")):
            views[_path(calls[m.tool_call_id])] = (i, m.tool_call_id)
        for call in m.tool_calls if m.role == "assistant" else []:
            if call.name in WRITES:
                views[_path(call)] = (i, call.id)
    return views


def _tool_result(i: int, m: Message, call: ToolCall | None, views: dict[str, tuple[int, str]],
                 round_start: int, last_run: int) -> Message:
    if call is None:
        return m
    note = None
    if call.name == "read_file" and views.get(_path(call), (i, m.tool_call_id)) != (i, m.tool_call_id):
        note = f"[read_file {_path(call)}: {len(m.content):,} chars, elided: a later read or write of this file is below]"
    elif call.name == "run_tests" and (i != last_run or i < round_start):
        first = m.content.splitlines()[0] if m.content else ""
        note = f"[run_tests: {first} (output elided: a later test run is below)]"
    elif call.name in ROUND_ONLY and i < round_start:
        note = f"[{call.name} {call.arguments.get('pattern') or call.arguments.get('path') or '.'}: " \
               f"{len(m.content.splitlines())} lines, elided (an earlier round); call it again if needed]"
    return m if note is None else m.model_copy(update={"content": note})


def _assistant(i: int, m: Message, views: dict[str, tuple[int, str]]) -> Message:
    """The reply, with the contents of file writes that a later view supersedes cut to a note."""
    stale = [c for c in m.tool_calls if c.name in WRITES and views.get(_path(c)) != (i, c.id)]
    if not stale:
        return m
    calls = [c.model_copy(update={"arguments": {**c.arguments, "content":
             f"[{len(str(c.arguments.get('content', ''))):,} chars, elided: a later read or write of this file is below]"}})
             if c in stale else c for c in m.tool_calls]
    return m.model_copy(update={"tool_calls": calls})
