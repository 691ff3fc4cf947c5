"""The agentos commands a user types, through Typer, on real repositories."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agentos.cli.main import app

from tests.helpers.repos import git
from tests.helpers.sample import edit_config


def _agentos(*args: str):
    return CliRunner().invoke(app, list(args))


def test_issue_new_and_list(tmp_path):
    git(tmp_path, "init", "-q")
    body = tmp_path / "body.md"
    body.write_text("Steps:\n\n---\n1. run it\n")
    created = _agentos("issue", "new", "--title", "Crash on empty input", "--body-file", str(body), "--label", "bug", "--repo", str(tmp_path))
    assert created.exit_code == 0 and "created issue #1" in created.output
    listed = _agentos("issue", "list", "--repo", str(tmp_path))
    assert "#1" in listed.output and "Crash on empty input" in listed.output
    missing = _agentos("issue", "new", "--title", "x", "--body-file", str(tmp_path / "nope.md"), "--repo", str(tmp_path))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    latin = tmp_path / "latin1.md"
    latin.write_bytes("Caf\u00e9 crashes".encode("latin-1"))
    junk = _agentos("issue", "new", "--title", "x", "--body-file", str(latin), "--repo", str(tmp_path))
    assert junk.exit_code == 2 and "is not UTF-8 text (byte 0xe9 at offset 3)" in junk.output


def test_approve_without_a_paused_run_exits_2(sample_repo):
    result = _agentos("approve", "1", "--repo", str(sample_repo))
    assert result.exit_code == 2 and "no run paused at a gate" in result.output


def test_reject_needs_feedback(sample_repo):
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    edit_config(sample_repo, gates={"after_triage": True})
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True)).exit_code == 3
    result = _agentos("reject", "1", "--repo", str(sample_repo), "--feedback", "  ")
    assert result.exit_code == 2 and "needs feedback" in result.output


def test_status_of_a_paused_run_names_the_gate(sample_repo):
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    edit_config(sample_repo, gates={"after_lld": True})
    orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True))
    text = _agentos("status", "1", "--repo", str(sample_repo))
    assert text.exit_code == 0 and "PAUSED at gate after LLD" in text.output
    assert "Waiting at gate after LLD" in text.output and "agentos approve 1 --repo" in text.output
    info = json.loads(_agentos("status", "1", "--repo", str(sample_repo), "--json").output)
    lld = next(s for s in info["stages"] if s["name"] == "lld")
    assert lld["status"] == "PASS" and info["gate"]["document"]["path"].endswith("lld.md")
    assert info["calls"] == 6 and info["summary"]["gate"] == "after_lld"


def test_status_of_an_issue_never_run(sample_repo):
    result = _agentos("status", "7", "--repo", str(sample_repo))
    assert result.exit_code == 2 and "no runs" in result.output


def test_an_internal_error_exits_1_with_a_log_path(sample_repo, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("agentos.commands.status.run_status", boom)
    result = _agentos("status", "1", "--repo", str(sample_repo))
    assert result.exit_code == 1 and "internal error" in result.output
    log = result.output.split("details in ")[1].strip()
    assert "RuntimeError: unexpected" in open(log).read()


def test_a_closed_pipe_is_not_an_internal_error(sample_repo):
    """`agentos config show | head -1`: the reader is gone before we finish writing."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, deterministically
    proc = subprocess.run([sys.executable, "-m", "agentos.cli.main", "config", "show", "--repo", str(sample_repo)],
                          stdout=write_end, stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "internal error" not in proc.stderr
    assert not (sample_repo / ".agentos" / "logs").exists()
