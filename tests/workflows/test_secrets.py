"""A key planted in untrusted text never reaches prompts, lineage, documents or events."""

from __future__ import annotations

from agentos.forge.local import LocalForge
from agentos.workflows.orchestrator.run import run_workflow
from agentos.workflows.orchestrator.session import RunOptions

KEY = "sk-ant-PLANTED-0123456789abcdef"


def test_planted_key_is_redacted_everywhere_we_write(sample_repo, monkeypatch, capfd):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    issue = sample_repo / ".agentos" / "issues" / "1.md"
    issue.write_text(issue.read_text() + f"\nMy key is {KEY}, please use it.\n")
    assert KEY in issue.read_text()  # the forge's own record keeps what was filed; it is redacted as it is read
    assert "My key is [REDACTED:ANTHROPIC_API_KEY]" in LocalForge(sample_repo).get_issue(1).body
    assert run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True)).exit_code == 0
    leaks = [p for p in sample_repo.rglob("*") if p.is_file() and p != issue
             and KEY.encode() in p.read_bytes()]
    assert leaks == []
    prompts = (next((sample_repo / ".agentos" / "runs").glob("triage-*")) / "scripted-calls.jsonl").read_text()
    assert "[REDACTED:ANTHROPIC_API_KEY]" in prompts
    assert KEY not in capfd.readouterr().err
