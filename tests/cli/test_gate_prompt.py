"""The gate at the terminal after the code review: what it shows before asking."""

from __future__ import annotations

import io

from agentos.cli.gate_prompt import GatePrompt
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.workflows.review_repo import finding, reviewer, target, verdict


def test_the_gate_after_the_code_review_shows_its_verdict_and_the_change(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # lines are fitted to the terminal
    repo = target(tmp_path / "repo", gates={"after_review": True})
    reviewer(repo, verdict("APPROVED", "Does what the spec asks.", [finding("C1", "Name lo/hi.", "minor")]))
    assert orchestrate(RunOptions(issue=1, repo=repo, plain=True)).exit_code == 3

    answers = iter(["", "a"])
    out = io.StringIO()
    prompt = GatePrompt(RepoLayout(repo), {"gate": "after_review", "stage": "review", "issue": 1}, out=out,
                        read=lambda _: next(answers))
    assert prompt.run()["action"] == "approve"
    shown = out.getvalue()
    assert "Gate after code review: approve the reviewed code?" in shown
    assert "code review  APPROVED after 1 round by scripted:.agentos/scripted/reviewer.yaml (approved)" in shown
    assert "open: C1 (minor, calc/ops.py:5-9): Name lo/hi." in shown
    assert "calc/ops.py" in shown.split("changes", 1)[1]  # the diff's stat
