"""The progress comment: one comment edited in place, one status label at a time, safe Markdown,
and a forge failure that never stops the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agentos.forge.base import ForgeUnavailableError
from agentos.forge.local import LocalForge
from agentos.forge.reporting import LABELS, MARKER, IssueReporter
from agentos.progress.events import Progress

STAGES = ["triage", "lld", "spec", "impl", "pr"]


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    forge = LocalForge(tmp_path)
    forge.create_issue("t", "b", ["bug"])
    return forge


def _progress(forge: LocalForge, root: Path) -> Progress:
    reporter = IssueReporter(forge, 1, forge.get_issue(1).labels, root, "agentos/issue-1")
    return Progress("run-1", [reporter])


def _state(forge: LocalForge) -> tuple[list[str], list[str]]:
    issue = forge.get_issue(1)
    return [c.body for c in issue.comments], issue.labels


def test_one_comment_follows_the_run_and_labels_stay_consistent(forge, tmp_path):
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    [body], labels = _state(forge)
    assert body.startswith(MARKER) and "in progress" in body and labels == ["bug", LABELS["running"]]
    bus.emit("stage_started", stage="triage", attempt=1)
    bus.emit("stage_finished", stage="triage", verdict="PASS", message="approved after 1 review round(s)")
    bus.emit("model_call", stage="lld", cost_usd=0.25)
    bus.emit("gate_paused", stage="after_triage", data={"gate": "after_triage", "stage": "triage",
                                                         "artifact": "docs/agentos/issue-1/brief.md"})
    [body], labels = _state(forge)
    assert "`/agentos approve`" in body and "`/agentos reject <what to change>`" in body
    assert "`docs/agentos/issue-1/brief.md` on branch `agentos/issue-1`" in body and "$0.2500" in body
    assert labels == ["bug", LABELS["paused"]]
    bus.emit("gate_decided", stage="after_triage", verdict="approve")
    assert _state(forge)[1] == ["bug", LABELS["running"]]
    bus.emit("artifact_written", stage="pr", data={"path": "https://example.invalid/pull/2"})
    bus.emit("run_finished", verdict="done", message="PR: https://example.invalid/pull/2")
    [body], labels = _state(forge)
    assert "**Pull request:** https://example.invalid/pull/2" in body and labels == ["bug", LABELS["done"]]


def test_blocked_run_says_why_and_what_to_do(forge, tmp_path):
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    bus.emit("stage_finished", stage="lld", verdict="BLOCK", message=f"not approved; see {tmp_path}/x.md")
    bus.emit("run_finished", verdict="blocked", message="blocked at lld: not approved after 2 revision(s)")
    [body], labels = _state(forge)
    assert "blocked" in body and "not approved after 2 revision(s)" in body
    assert "**What to do:**" in body and "orchestrate --issue 1" in body and "--resume-from" in body
    assert str(tmp_path) not in body and labels == ["bug", LABELS["blocked"]]


def test_an_error_stop_is_reported_as_blocked(forge, tmp_path):
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    bus.emit("run_finished", verdict="failed", message="GitHub API rate limit used up")
    [body], labels = _state(forge)
    assert "stopped by an error" in body and "continues where it stopped" in body
    assert labels == ["bug", LABELS["blocked"]]


def test_an_interrupted_run_says_the_same_command_continues_it(forge, tmp_path):
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    bus.emit("run_finished", verdict="interrupted", message="terminated (SIGTERM)")
    [body], labels = _state(forge)
    assert "interrupted" in body and "terminated (SIGTERM)" in body
    assert "- run it again: it continues where it stopped: `orchestrate --issue 1`" in body
    assert labels == ["bug"]


def test_stage_text_cannot_break_the_comment(forge, tmp_path):
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    bus.emit("stage_finished", stage="triage", verdict="BLOCK",
             message="a | b\n\n```\nunclosed <!-- Fixes #3 cc @alice")
    [body], _ = _state(forge)
    html = MarkdownIt("commonmark").enable("table").render(body)
    assert html.count("<tr>") == 1 + len(STAGES) and "<code>Fixes #3</code>" in html and "<code>@alice</code>" in html
    assert "<pre>" not in html and "<!--" not in html.replace("<!-- agentos:progress -->", "")


class FlakyForge(LocalForge):
    fail = True

    def upsert_comment(self, issue, marker, body):
        if self.fail:
            raise ForgeUnavailableError("network down")
        return super().upsert_comment(issue, marker, body)


def test_forge_failure_is_logged_and_caught_up_later(tmp_path, caplog):
    forge = FlakyForge(tmp_path)
    forge.create_issue("t", "b")
    bus = _progress(forge, tmp_path)
    bus.emit("run_started", data={"stages": STAGES})
    bus.emit("stage_finished", stage="triage", verdict="PASS", message="ok")
    assert "network down" in caplog.text and forge.get_issue(1).comments == []
    forge.fail = False
    bus.close()
    [body], _ = _state(forge)
    assert "| triage | ✅ passed | ok |" in body
