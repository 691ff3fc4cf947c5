"""The orchestrate pipeline end to end, through the real graphs, on sample repositories."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.cli.orchestrate import app as orchestrate_app
from agentos.demo import run_demo
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.repos import git, tree_snapshot
from tests.helpers.sample import edit_config, edit_script, script_replies


def _run(repo: Path, **kw):
    return orchestrate(RunOptions(issue=1, repo=repo, plain=True, **kw))


def _calls(repo: Path) -> list[dict]:
    logs = sorted((repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
    return [json.loads(line) for log in logs for line in log.read_text().splitlines()]


def _prompt(call: dict) -> str:
    return "\n".join(m.get("content", "") for m in call["messages"])


def _pr_records(repo: Path) -> list[dict]:
    out = []
    for path in sorted((repo / ".agentos" / "pulls").glob("*.md")):
        _, front, body = path.read_text().split("---\n", 2)
        out.append({**yaml.safe_load(front), "body": body})
    return out


def test_the_demo_runs_unconfined_where_bubblewrap_cannot_and_says_so(tmp_path):
    from agentos.demo import create_sample, sandbox_line
    from agentos.config import load_config

    repo = create_sample(tmp_path / "demo", bwrap=str(tmp_path / "no-such-bwrap"))
    assert load_config(repo).config.sandbox.backend == "off"
    assert "off: bubblewrap is missing here" in sandbox_line(repo)


def test_demo_end_to_end(tmp_path):
    report = run_demo(tmp_path / "demo", plain=True)
    repo = tmp_path / "demo"
    assert "Demo finished: issue #1" in report

    [pr] = _pr_records(repo)
    assert pr["head"] == "agentos/issue-1" and pr["base"] == "main" and pr["state"] == "open"
    assert "Closes #1" in pr["body"] and "4 passed, 0 failed" in pr["body"]
    assert "sandbox            bubblewrap" in report and "Sandbox: bubblewrap" in pr["body"]

    # Artifacts are committed on the work branch, with the code; the user's checkout is untouched.
    on_branch = git(repo, "ls-tree", "-r", "--name-only", "agentos/issue-1").split()
    for doc in ("brief", "lld", "spec"):
        assert f"docs/agentos/issue-1/{doc}.md" in on_branch
    lld = git(repo, "show", "agentos/issue-1:docs/agentos/issue-1/lld.md")
    assert "Round 1: REVISE" in lld and "Status: APPROVED after 2 review rounds" in lld
    code = git(repo, "show", "agentos/issue-1:textkit/slug.py")
    assert '"[^a-z0-9]+"' in code and 'strip("-")' in code
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert '"[^a-z0-9]"' in (repo / "textkit" / "slug.py").read_text()

    # The tests really ran, and the reviewer's findings reached the drafter's revision.
    status = json.loads(CliRunner().invoke(agentos_app, ["status", "1", "--repo", str(repo), "--json"]).output)
    impl = next(s for s in status["stages"] if s["name"] == "impl")
    assert status["summary"]["status"] == "done" and impl["exit_reason"] == "tests_pass"
    revise = [c for c in _calls(repo) if c["purpose"] == "lld.revise"]
    assert len(revise) == 1 and "Nothing removes a leading or trailing dash" in _prompt(revise[0])

    # One code review round, whose adversarial test passes: kept in its own commit, named in the PR.
    assert next(s for s in status["stages"] if s["name"] == "review")["exit_reason"] == "approved"
    assert status["code_review"]["kept_tests"] == ["tests/test_slug_edges.py"]
    assert git(repo, "log", "-1", "--format=%s", "agentos/issue-1").startswith("test: adversarial tests from the code review")
    assert "kept because they pass: `tests/test_slug_edges.py`" in pr["body"]
    assert "Tests after the code review: **7 passed, 0 failed, 0 errors**" in pr["body"]
    assert "unresolved minor finding C1" in pr["body"] and "kept adversarial tests: tests/test_slug_edges.py" in report


@pytest.mark.slow  # seconds of whole-pipeline work
def test_rerun_after_done_is_a_no_op_and_resume_from_reruns_later_stages(sample_repo):
    assert _run(sample_repo).exit_code == 0
    again = _run(sample_repo)
    assert again.exit_code == 0 and "already done" in again.message
    before = len(_calls(sample_repo))
    result = _run(sample_repo, resume_from="spec")
    assert result.exit_code == 0, result.message
    rerun = _calls(sample_repo)[before:]
    assert {c["purpose"].split(".")[0] for c in rerun} == {"spec", "impl", "review"}
    assert len(_pr_records(sample_repo)) == 1  # find-or-create: the same PR


@pytest.mark.slow  # seconds of whole-pipeline work
def test_gate_pauses_then_approve_continues(sample_repo):
    edit_config(sample_repo, gates={"after_lld": True})
    paused = _run(sample_repo)
    assert paused.exit_code == 3
    assert "agentos approve 1" in paused.message and "orchestrate --issue 1" in paused.message
    assert not (sample_repo / ".agentos" / "pulls").exists()
    again = _run(sample_repo)  # no decision yet: still paused, nothing re-run
    assert again.exit_code == 3
    approved = CliRunner().invoke(agentos_app, ["approve", "1", "--repo", str(sample_repo)])
    assert approved.exit_code == 0, approved.output
    done = _run(sample_repo)
    assert done.exit_code == 0, done.message
    assert len(_pr_records(sample_repo)) == 1
    assert [c["purpose"] for c in _calls(sample_repo)].count("lld.draft") == 1


def _gate_after_lld_with_one_more_revision(repo):
    """A gate after the LLD, and scripts for one more revision (addressing the human's finding H1)
    and its review."""
    edit_config(repo, gates={"after_lld": True})
    risk = "Callers relying on the old dashes: none found in the repository."
    unicode_edit = {"data": {"addressed": ["H1"], "edits": [{"search": risk, "replace": risk + "\nUnicode: out of scope."}]}}
    edit_script(repo, "drafter", "lld.revise", [*script_replies(repo, "drafter", "lld.revise"), unicode_edit])
    reviews = script_replies(repo, "reviewer", "lld.review")
    edit_script(repo, "reviewer", "lld.review", [*reviews, reviews[-1]])


@pytest.mark.slow  # seconds of whole-pipeline work
def test_reject_feedback_reaches_the_drafters_next_revision(sample_repo):
    _gate_after_lld_with_one_more_revision(sample_repo)
    assert _run(sample_repo).exit_code == 3
    rejected = CliRunner().invoke(agentos_app, ["reject", "1", "--repo", str(sample_repo), "--feedback", "Say what happens to unicode letters"])
    assert rejected.exit_code == 0, rejected.output
    assert _run(sample_repo).exit_code == 3  # revised, re-reviewed, and back at the same gate
    second = [c for c in _calls(sample_repo) if c["purpose"] == "lld.revise" and c["turn"] == 1]
    assert len(second) == 1 and "H1 [blocking] : Say what happens to unicode letters" in _prompt(second[0])
    CliRunner().invoke(agentos_app, ["approve", "1", "--repo", str(sample_repo)])
    assert _run(sample_repo).exit_code == 0
    lld = git(sample_repo, "show", "agentos/issue-1:docs/agentos/issue-1/lld.md")
    assert "Unicode: out of scope." in lld and "Status: APPROVED after 3 review rounds" in lld


def test_terminal_prompt_rejects_then_approves(sample_repo, monkeypatch):
    from agentos.cli.gate_prompt import gate_asker

    edit_config(sample_repo, gates={"after_spec": True})
    more = {"data": {"addressed": ["H1"], "edits": [{"search": "## Dependencies\nNone.",
                                                      "replace": "## Dependencies\nNone.\n\n`\"!!!\"` → `\"\"`."}]}}
    edit_script(sample_repo, "drafter", "spec.revise", [more])
    edit_script(sample_repo, "reviewer", "spec.review", script_replies(sample_repo, "reviewer", "spec.review") * 2)
    answers = iter(["r", "Add an all-punctuation example", "a"])
    monkeypatch.setattr("agentos.cli.gate_prompt.GatePrompt.read_line", lambda self, prompt: next(answers))
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), ask=gate_asker(sample_repo))
    assert result.exit_code == 0, result.message
    revise = [c for c in _calls(sample_repo) if c["purpose"] == "spec.revise"]
    assert "Add an all-punctuation example" in _prompt(revise[0])


def test_terminal_prompt_quit_pauses(sample_repo, monkeypatch):
    from agentos.cli.gate_prompt import gate_asker

    edit_config(sample_repo, gates={"before_pr": True})
    monkeypatch.setattr("agentos.cli.gate_prompt.GatePrompt.read_line", lambda self, prompt: "q")
    result = orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True), ask=gate_asker(sample_repo))
    assert result.exit_code == 3 and "before pull request" in result.message


def test_dry_run_writes_nothing_and_imports_no_graph_engine(sample_repo, capfd):
    before = tree_snapshot(sample_repo)
    code = (
        "import sys\nfrom agentos.cli.orchestrate import main\nsys.argv=['orchestrate','--issue','1','--repo',sys.argv[1],'--dry-run']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert not [m for m in sys.modules if m.startswith('langgraph')], 'langgraph imported'\n"
    )
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code, str(sample_repo)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "triage  RUN" in proc.stdout and "gate before_pr: off" in proc.stdout
    assert "scripted:.agentos/scripted/reviewer.yaml" in proc.stdout and "ready" in proc.stdout
    # the test command it would use, and why: the sample's tests are unittest.TestCase classes
    assert "tests: {python} -m unittest discover -v -s tests -t . (unittest: tests/test_slug.py" in proc.stdout
    # which sandbox the code would run in, and what it allows
    assert "sandbox: bubblewrap" in proc.stdout or "sandbox: none available" in proc.stdout
    assert tree_snapshot(sample_repo) == before


def test_dry_run_shows_skips_after_a_run(sample_repo):
    assert _run(sample_repo).exit_code == 0
    plan = _run(sample_repo, dry_run=True, resume_from="impl").message
    assert "lld     SKIP  --resume-from impl: reusing agentos/issue-1:docs/agentos/issue-1/lld.md" in plan
    assert "impl    RUN" in plan


@pytest.mark.parametrize("args,needle", [
    (["--issue", "99"], "#99"),
    (["--issue", "1", "--resume-from", "spec"], "needs an existing triage document"),
    (["--issue", "1", "--skip-lld"], "--skip-lld needs an existing lld document"),
    (["--issue", "1", "--resume-from", "nowhere"], "not a stage"),
    (["--issue", "1", "--set", "stages.lld.drafter=warp:drive"], "unknown model provider 'warp'"),
])
def test_bad_input_exits_2_naming_the_problem(sample_repo, args, needle):
    before = tree_snapshot(sample_repo)
    result = CliRunner().invoke(orchestrate_app, [*args, "--repo", str(sample_repo), "--plain"])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert {k for k in tree_snapshot(sample_repo) if not k.startswith(".agentos/")} == {k for k in before if not k.startswith(".agentos/")}


def test_unknown_config_key_exits_2(sample_repo):
    cfg = sample_repo / ".agentos" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("gates:", "gatez:"))
    result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(sample_repo)])
    assert result.exit_code == 2
    assert "gatez" in result.output and str(cfg) in result.output and "allowed here" in result.output


def test_not_a_git_repository_exits_2(tmp_path):
    result = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(tmp_path)])
    assert result.exit_code == 2 and "not inside a git repository" in result.output


def test_reviewer_cap_blocks_with_exit_4(sample_repo):
    revise = {"data": {"verdict": "REVISE", "summary": "still vague", "findings": [
        {"id": "F1", "section": "Logic flow", "severity": "major", "text": "vague"}]}}
    edit_script(sample_repo, "reviewer", "lld.review", [revise] * 3)
    edit_config(sample_repo, stages={"lld": {"max_revisions": 1}})
    result = _run(sample_repo)
    assert result.exit_code == 4
    assert "lld" in result.message and "not approved after 1 revision" in result.message
    assert result.state["stage_results"]["lld"]["exit_reason"] == "max_revisions"
    assert not git(sample_repo, "ls-tree", "-r", "--name-only", "agentos/issue-1", "docs/agentos/issue-1/").count("lld.md")


def test_standalone_workflow_runs_on_its_own(sample_repo):
    result = CliRunner().invoke(agentos_app, ["triage", "--issue", "1", "--repo", str(sample_repo), "--plain"])
    assert result.exit_code == 0, result.output
    assert "docs/agentos/issue-1/brief.md" in result.output
    assert [c["purpose"] for c in _calls(sample_repo)] == ["triage.draft", "triage.review"]


def test_a_run_recorded_but_never_checkpointed_starts_on_the_next_command(sample_repo):
    """What a kill between the run record and the first checkpoint leaves (test_crashes.py kills a real one)."""
    from agentos import runs
    from agentos.paths import RepoLayout

    orphan = runs.new_run(RepoLayout(sample_repo.resolve()), 1, "orchestrate")

    result = _run(sample_repo)

    assert result.exit_code == 0 and result.run_id == orphan.run_id and result.status == "done"


@pytest.mark.slow  # seconds of whole-pipeline work
def test_people_s_decisions_are_in_the_review_log_the_pr_body_and_the_events(sample_repo, monkeypatch):
    from agentos import readmodel
    from agentos.paths import RepoLayout

    _gate_after_lld_with_one_more_revision(sample_repo)
    assert _run(sample_repo).exit_code == 3
    git(sample_repo, "config", "user.name", "Rita Reviewer")
    CliRunner().invoke(agentos_app, ["reject", "1", "--repo", str(sample_repo), "--feedback", "Say what happens to unicode letters"])
    assert _run(sample_repo).exit_code == 3
    git(sample_repo, "config", "user.name", "Ada Approver")
    CliRunner().invoke(agentos_app, ["approve", "1", "--repo", str(sample_repo)])
    assert _run(sample_repo).exit_code == 0

    lld = git(sample_repo, "show", "agentos/issue-1:docs/agentos/issue-1/lld.md")
    assert "- Gate after LLD: REJECTED by Rita Reviewer: Say what happens to unicode letters" in lld
    assert lld.rstrip().endswith("- Gate after LLD: APPROVED by Ada Approver (overrides the rejection by Rita Reviewer)")
    body = (sample_repo / ".agentos" / "pulls" / "2.md").read_text()
    assert "- gate after LLD: rejected by Rita Reviewer: Say what happens to unicode letters" in body
    assert "- gate after LLD: approved by Ada Approver (overrides the rejection by Rita Reviewer)" in body
    detail = readmodel.run_detail(RepoLayout(sample_repo), 1)
    assert [(d.action, d.by, d.overrides) for d in detail.decisions] == [
        ("reject", "Rita Reviewer", ""), ("approve", "Ada Approver", "overrides the rejection by Rita Reviewer")]
