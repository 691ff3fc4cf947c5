"""SIGKILL a real orchestrate process inside the code review loop, at a fixed point (the second
review call, after a fix round), run it again, and check that it finishes without paying again
for any model call that had finished.

The kill is deterministic: a sitecustomize module on the child's PYTHONPATH wraps the scripted
provider and kills its own process when the named call is about to be made, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.repos import git
from tests.workflows.review_repo import calls, docstring_fix, finding, fixes, reviewer, target, verdict
from tests.workflows.impl_repo import FINISH

pytestmark = pytest.mark.slow  # real processes end to end: make test, not make test-fast

KILLER = '''
import os
import signal
from pathlib import Path

if os.environ.get("KILL_AT"):
    from agentos.llm import scripted

    _complete = scripted.ScriptedProvider.complete
    marker = Path(os.environ["KILL_MARKER"])

    def complete(self, request):
        if f"{request.purpose}:{request.turn}" == os.environ["KILL_AT"] and not marker.exists():
            marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return _complete(self, request)

    scripted.ScriptedProvider.complete = complete
'''


def _orchestrate(repo: Path, site: Path, marker: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "KILL_AT": "review.review:1", "KILL_MARKER": str(marker)}
    cmd = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(repo), "--plain"]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300)


def _journal_digests(repo: Path) -> set[str]:
    [journal] = (repo / ".agentos" / "runs").glob("*/calls.jsonl")
    return {json.loads(line)["response"]["request_id"].removeprefix("scripted-")
            for line in journal.read_text().splitlines() if line.strip()}


def test_killed_inside_the_review_loop_resumes_without_repeating_finished_calls(tmp_path):
    repo = target(tmp_path / "repo")
    reviewer(repo, verdict("REVISE", "Undocumented.", [finding("F1", "Document the ValueError.")]),
             verdict("APPROVED", "Documented."))
    fixes(repo, docstring_fix(), FINISH)
    site, marker = tmp_path / "site", tmp_path / "killed"
    site.mkdir()
    (site / "sitecustomize.py").write_text(KILLER)

    first = _orchestrate(repo, site, marker)
    assert first.returncode == -9, first.stdout  # killed at the second review, as planned
    before = [c["purpose"] for c in calls(repo)]
    assert before.count("review.review") == 1 and before.count("review.green") == 2
    finished = _journal_digests(repo)

    second = _orchestrate(repo, site, marker)
    assert second.returncode == 0, second.stdout
    assert "resumed" in second.stdout
    made = calls(repo)
    digests = [c["digest"] for c in made]
    assert not {d for d in digests if digests.count(d) > 1} & finished, "a finished model call was paid for again"
    assert [c["purpose"] for c in made].count("review.green") == 2  # the fix round was not redone
    assert [f"{c['purpose']}:{c['turn']}" for c in made if c["purpose"] == "review.review"] == \
        ["review.review:0", "review.review:1"]
    assert "Raises ValueError when lo > hi." in git(repo, "show", "agentos/issue-1:calc/ops.py")
    assert list((repo / ".agentos" / "pulls").glob("*.md"))
