"""Gate decisions from issue comments: `/agentos approve` and `/agentos reject <feedback>`.

A comment is a command only when its first non-blank line starts with `/agentos`; text that
merely mentions one (in the issue body, mid-paragraph, in our own progress comment) is not.
A command counts only when it was written after the run paused at the gate (comment ids only
grow) and its author has write permission, checked through the forge. Everything else is
ignored, and the reason logged. Commands decide gates and nothing else: no comment can
change configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agentos.forge.base import WRITE_ROLES, Forge
from agentos.forge.reporting import MARKER

FLOOR_KEY = "gate_comments_after"
"""Run record key: {gate, after}; only comments with a larger id can decide that gate."""

_COMMAND = re.compile(r"/agentos(?=\s|$)\s*(\S*)(.*)", re.IGNORECASE | re.DOTALL)

Log = Callable[[str], None]


def parse_command(body: str) -> tuple[str, str] | None:
    """(action, text) of a command comment, or None when the comment is not one.

    action is "approve", "reject" (text: the feedback) or "invalid" (text: why).
    """
    text = (body or "").replace("\r\n", "\n").strip()
    match = _COMMAND.match(text)
    if match is None:
        return None
    verb, rest = match.group(1).lower(), match.group(2).strip()
    if verb == "approve":
        return "approve", rest
    if verb == "reject":
        return ("reject", rest) if rest else ("invalid", "`/agentos reject` needs feedback: "
                                                         "`/agentos reject <what to change>`")
    return "invalid", f"unknown command {verb or '(none)'!r}; use `/agentos approve` or `/agentos reject <feedback>`"


def latest_comment_id(forge: Forge, issue: int) -> int:
    return max((c.id for c in forge.get_issue(issue).comments), default=0)


def decision_from_comments(forge: Forge, issue: int, after: int, log: Log) -> dict[str, Any] | None:
    """The newest valid command written after comment `after`, as a gate decision; or None."""
    decision, roles = None, {}
    for comment in sorted(forge.get_issue(issue).comments, key=lambda c: c.id):
        parsed = parse_command(comment.body) if comment.id > after and MARKER not in comment.body else None
        if parsed is None:
            continue
        action, text = parsed
        who = f"@{comment.author} (comment {comment.id})"
        if action == "invalid":
            log(f"ignored the command from {who}: {text}")
            continue
        if comment.author not in roles:
            roles[comment.author] = forge.permission(comment.author)
        if roles[comment.author] not in WRITE_ROLES:
            log(f"ignored `/agentos {action}` from {who}: their permission is "
                f"{roles[comment.author]!r}, deciding a gate needs write")
            continue
        decision = {"action": action, "feedback": text if action == "reject" else None, "by": who,
                    "comment_id": comment.id}
    return decision


class CommentGate:
    """Looks for a decision on the gate a run is paused at, among the issue's comments.

    The first time it sees the run paused at a gate it notes the newest comment id and
    decides nothing: only comments written after the pause count.
    """

    def __init__(self, forge: Forge, issue: int, log: Log):
        self.forge, self.issue, self.log = forge, issue, log

    def __call__(self, record) -> dict[str, Any] | None:
        gate = (record.gate or {}).get("gate")
        floor = record.extra.get(FLOOR_KEY)
        if not floor or floor.get("gate") != gate:
            record.extra[FLOOR_KEY] = {"gate": gate, "after": latest_comment_id(self.forge, self.issue)}
            return None
        decision = decision_from_comments(self.forge, self.issue, int(floor.get("after", 0)), self.log)
        return {**decision, "gate": gate} if decision else None
