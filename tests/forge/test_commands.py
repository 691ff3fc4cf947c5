"""`/agentos approve|reject` comments: what counts as a command, who may give one, and which
comments count for a gate (only those after the pause)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.forge.commands import FLOOR_KEY, CommentGate, decision_from_comments, parse_command
from agentos.forge.local import LocalForge
from agentos.forge.reporting import MARKER
from agentos.runs import RunRecord


@pytest.mark.parametrize("body, parsed", [
    ("/agentos approve", ("approve", "")),
    ("  /AGENTOS Approve  looks good", ("approve", "looks good")),
    ("/agentos reject Say what happens to unicode", ("reject", "Say what happens to unicode")),
    ("/agentos reject\r\n\r\n- add tests\r\n- rename x", ("reject", "- add tests\n- rename x")),
    ("\n\n/agentos approve\nthanks", ("approve", "thanks")),
])
def test_commands(body, parsed):
    assert parse_command(body) == parsed


@pytest.mark.parametrize("body", ["please /agentos approve", "> /agentos approve", "`/agentos approve`",
                                  "/agentosapprove", "LGTM", "", "approve"])
def test_text_that_is_not_a_command(body):
    assert parse_command(body) is None


@pytest.mark.parametrize("body, why", [("/agentos reject", "needs feedback"), ("/agentos merge", "unknown command 'merge'"),
                                       ("/agentos", "unknown command")])
def test_malformed_commands_say_why(body, why):
    action, text = parse_command(body)
    assert action == "invalid" and why in text


class PermissionForge(LocalForge):
    """The local forge with GitHub-like roles, to test who may decide."""

    roles: dict[str, str] = {}

    def permission(self, user: str) -> str:
        return self.roles.get(user, "none")


@pytest.fixture
def forge(tmp_path: Path) -> PermissionForge:
    forge = PermissionForge(tmp_path)
    forge.roles = {"maintainer": "write", "owner": "admin", "reader": "read"}
    forge.create_issue("t", "/agentos approve  (the issue body is never a command)")
    return forge


def test_only_writers_decide_and_ignored_comments_are_logged(forge):
    forge.add_comment(1, "/agentos approve", author="reader")
    forge.add_comment(1, "/agentos approve", author="drive-by")
    forge.add_comment(1, "/agentos reject", author="maintainer")
    log: list[str] = []
    assert decision_from_comments(forge, 1, 0, log.append) is None
    assert len(log) == 3
    assert "@reader (comment 1)" in log[0] and "permission is 'read'" in log[0]
    assert "'none'" in log[1] and "needs feedback" in log[2]


def test_newest_valid_command_after_the_floor_wins(forge):
    forge.add_comment(1, "/agentos reject old feedback", author="owner")
    forge.add_comment(1, "/agentos reject tighten the error messages", author="maintainer")
    forge.add_comment(1, f"{MARKER}\n comment `/agentos approve` to continue", author="maintainer")
    decision = decision_from_comments(forge, 1, 1, [].append)
    assert decision == {"action": "reject", "feedback": "tighten the error messages",
                        "by": "@maintainer (comment 2)", "comment_id": 2}


def test_comment_gate_counts_only_comments_after_the_pause(forge):
    forge.add_comment(1, "/agentos approve", author="owner")  # before the run paused: stale
    record = RunRecord("r", 1, "orchestrate", "now", status="paused", gate={"gate": "after_lld"})
    gate = CommentGate(forge, 1, [].append)
    assert gate(record) is None and record.extra[FLOOR_KEY] == {"gate": "after_lld", "after": 1}
    assert gate(record) is None
    forge.add_comment(1, "/agentos approve", author="maintainer")
    assert gate(record) == {"action": "approve", "feedback": None, "by": "@maintainer (comment 2)",
                            "comment_id": 2, "gate": "after_lld"}
    record.gate = {"gate": "before_pr"}  # a different gate: a new floor, the old approval does not count
    assert gate(record) is None and record.extra[FLOOR_KEY]["after"] == 2
