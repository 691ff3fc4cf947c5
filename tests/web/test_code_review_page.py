"""The run page of a run whose code review blocked: the stage row, the blocker and the review."""

from __future__ import annotations

import re

from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.web.conftest import client_for
from tests.workflows.impl_repo import FINISH
from tests.workflows.review_repo import docstring_fix, finding, fixes, reviewer, target, verdict


def test_the_run_page_shows_the_code_review_its_exit_reason_and_open_findings(tmp_path):
    repo = target(tmp_path / "repo", review={"max_rounds": 1})
    reviewer(repo, verdict("REVISE", "Undocumented.", [finding("F1", "Document the <ValueError>.")]))
    fixes(repo, docstring_fix(), FINISH)
    assert orchestrate(RunOptions(issue=1, repo=repo, plain=True)).exit_code == 4
    client, _ = client_for(repo)

    page = client.get("/issues/1").text
    assert re.search(r'data-stage="review">.*?BLOCK.*?max_rounds', page, re.S)
    assert "Blocked at code review" in page
    section = page.split('id="code-review"', 1)[1].split("</div>", 1)[0]
    assert "REVISE after 1 round" in section and "(max_rounds)" in section
    assert "F1 (major, calc/ops.py:5-9): Document the &lt;ValueError&gt;." in section  # escaped
