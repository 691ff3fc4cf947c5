"""Each way the review loop ends, through the real document graphs with scripted models."""

from __future__ import annotations

import json
import subprocess

import pytest

from agentos.llm.answers import AnswerTooLong
from agentos.workflows.orchestrator.run import run_workflow
from agentos.workflows.orchestrator.session import RunOptions

from tests.helpers.sample import edit_config, edit_script, script_replies

REVISE_F1 = {"data": {"verdict": "REVISE", "summary": "logic gap", "findings": [
    {"id": "F1", "section": "Logic flow", "severity": "blocking", "text": "Nothing strips the edge dashes."}]}}
APPROVE = {"data": {"verdict": "APPROVED", "summary": "good", "findings": []}}
STEP_3 = "2. Replace each run of `[^a-z0-9]` with one dash (`re.sub` with `+`).\n"


def _lld(repo):
    assert run_workflow("triage", RunOptions(issue=1, repo=repo, plain=True)).exit_code == 0
    return run_workflow("lld", RunOptions(issue=1, repo=repo, plain=True))


def _purposes(repo, stage="lld"):
    calls = [json.loads(line) for log in (repo / ".agentos" / "runs").glob(f"{stage}-*/scripted-calls.jsonl")
             for line in log.read_text().splitlines()]
    return [c["purpose"] for c in calls], calls


def _prompt_of(repo, purpose: str) -> str:
    """All message text of the first call made for `purpose`."""
    _, calls = _purposes(repo)
    call = next(c for c in calls if c["purpose"] == purpose)
    return "\n".join(m["content"] for m in call["messages"])


def _edit(search, replace, addressed=("F1",)):
    return {"data": {"addressed": list(addressed), "edits": [{"search": search, "replace": replace}]}}


def test_approved_in_the_first_round(sample_repo):
    edit_script(sample_repo, "reviewer", "lld.review", [APPROVE])
    result = _lld(sample_repo)
    assert result.exit_code == 0 and result.state["exit_reason"] == "approved" and result.state["rounds"] == 1
    assert _purposes(sample_repo)[0] == ["lld.draft", "lld.review"]


def test_approved_after_a_revision_with_lineage(sample_repo):
    result = _lld(sample_repo)
    assert result.exit_code == 0 and result.state["revisions"] == 1 and result.state["rounds"] == 2
    [run_dir] = (sample_repo / ".agentos" / "runs").glob("lld-*")
    step = run_dir / "lld" / "revise-1"
    assert "+3. Strip dashes" in (step / "diff.patch").read_text()
    assert "F1 [blocking] Logic flow" in (step / "prompt.md").read_text()
    assert json.loads((run_dir / "lld" / "review-1" / "verdict.json").read_text())["verdict"] == "REVISE"
    assert json.loads((step / "usage.json").read_text())["output_tokens"] > 0


def test_reviewer_block_stops_the_stage(sample_repo):
    blocked = {"data": {"verdict": "BLOCKED", "summary": "the issue contradicts itself", "findings": []}}
    edit_script(sample_repo, "reviewer", "lld.review", [blocked])
    result = _lld(sample_repo)
    assert result.exit_code == 4 and result.state["exit_reason"] == "blocked"
    assert "the issue contradicts itself" in result.message


def test_revision_that_changes_nothing_is_stagnation(sample_repo):
    edit_script(sample_repo, "reviewer", "lld.review", [REVISE_F1, REVISE_F1])
    edit_script(sample_repo, "drafter", "lld.revise", [_edit(STEP_3, STEP_3)])
    result = _lld(sample_repo)
    assert result.exit_code == 4 and result.state["exit_reason"] == "stagnation"
    assert "did not change" in result.message


def test_blocking_finding_raised_again_after_claimed_fix_is_stagnation(sample_repo):
    edit_script(sample_repo, "reviewer", "lld.review", [REVISE_F1, REVISE_F1, APPROVE])
    edit_config(sample_repo, stages={"lld": {"max_revisions": 5}})
    edit_script(sample_repo, "drafter", "lld.revise", [_edit("Lower-case the input.", "Lower-case the input first.")])
    result = _lld(sample_repo)
    assert result.exit_code == 4 and result.state["exit_reason"] == "stagnation"
    assert "F1 raised again" in result.message
    assert _purposes(sample_repo)[0].count("lld.review") == 2  # stopped early, not at the cap


def test_edits_that_do_not_apply_are_refused_and_asked_again(sample_repo):
    edit_script(sample_repo, "drafter", "lld.revise", [_edit("text that is not in the draft", "x")])
    good = _edit(STEP_3, STEP_3 + '3. Strip dashes from both ends (`str.strip("-")`).\n')
    edit_script(sample_repo, "drafter", "lld.revise.again", [good])
    result = _lld(sample_repo)
    assert result.exit_code == 0, result.message
    assert "its search text does not occur in the current draft" in _prompt_of(sample_repo, "lld.revise.again")


def test_edits_refused_twice_fall_back_to_a_recorded_redraw(sample_repo):
    bad = _edit("not there", "x")
    edit_script(sample_repo, "drafter", "lld.revise", [bad])
    edit_script(sample_repo, "drafter", "lld.revise.again", [bad])
    draft = script_replies(sample_repo, "drafter", "lld.draft")[0]["text"]
    edit_script(sample_repo, "drafter", "lld.redraw", [{"text": draft.replace(STEP_3, STEP_3 + "3. Strip dashes.\n")}])
    result = _lld(sample_repo)
    assert result.exit_code == 0, result.message
    assert result.state["redraws"] == 1
    [run_dir] = (sample_repo / ".agentos" / "runs").glob("lld-*")
    assert json.loads((run_dir / "lld" / "revise-1" / "usage.json").read_text())["how"] == "redraw"


def test_edit_removing_a_required_section_is_refused(sample_repo):
    remove = _edit("## Risks\nCallers relying on the old dashes: none found in the repository.\n", "")
    edit_script(sample_repo, "drafter", "lld.revise", [remove])
    edit_script(sample_repo, "drafter", "lld.revise.again", [_edit(STEP_3, STEP_3 + "3. Strip dashes.\n")])
    result = _lld(sample_repo)
    assert result.exit_code == 0, result.message
    assert "remove the required section '## Risks'" in _prompt_of(sample_repo, "lld.revise.again")


def test_mechanical_problems_go_to_the_drafter_before_any_review(sample_repo):
    draft = script_replies(sample_repo, "drafter", "lld.draft")[0]["text"]
    broken = draft.replace("| T2 | `\"  Hello, World! \"` | unit | `hello-world` | AC2 |\n", "")
    edit_script(sample_repo, "drafter", "lld.draft", [{"text": broken}])
    fix = _edit("| T3 | existing tests |", "| T2 | `\"  Hello, World! \"` | unit | `hello-world` | AC2 |\n| T3 | existing tests |", ("V1",))
    edit_script(sample_repo, "drafter", "lld.revise", [fix, *script_replies(sample_repo, "drafter", "lld.revise")])
    result = _lld(sample_repo)
    assert result.exit_code == 0, result.message
    purposes, calls = _purposes(sample_repo)
    assert purposes[:3] == ["lld.draft", "lld.revise", "lld.review"]
    assert "covers no test for AC2" in "\n".join(m["content"] for m in calls[1]["messages"])


def test_same_drafter_and_reviewer_warns(sample_repo, capfd):
    model = "scripted:.agentos/scripted/drafter.yaml"
    reviews = script_replies(sample_repo, "reviewer", "triage.review")
    edit_script(sample_repo, "drafter", "triage.review", reviews)
    edit_config(sample_repo, stages={"triage": {"reviewer": model}})
    assert run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True)).exit_code == 0
    assert "drafter and reviewer are the same model" in capfd.readouterr().err


def test_repository_template_override_sets_the_required_sections(sample_repo):
    templates = sample_repo / ".agentos" / "templates"
    templates.mkdir()
    (templates / "triage.md.j2").write_text("# Brief for #{{ issue_number }}\n\n## Problem\n## Acceptance criteria\n## Rollout\n")
    edit_config(sample_repo, stages={"triage": {"max_revisions": 0}})
    result = run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True))
    # The scripted brief has no '## Rollout': the override made it required.
    assert result.exit_code == 4 and "missing required section '## Rollout'" in result.message
    _, calls = _purposes(sample_repo, "triage")
    role = calls[0]["messages"][calls[0]["cache_after"][1]]["content"]  # the role follows the shared prefix
    assert "## Rollout" in role and "Brief for #1" in role


def test_a_model_that_returns_garbage_twice_blocks_the_standalone_workflow(sample_repo):
    edit_script(sample_repo, "reviewer", "triage.review", [{"text": "I think it's fine!"}])
    edit_script(sample_repo, "reviewer", "triage.review.retry", [{"text": "{\"verdict\": \"MAYBE\"}"}])
    result = run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4
    assert "did not return a valid Review" in result.message
    _, calls = _purposes(sample_repo, "triage")
    assert "did not match the required JSON schema" in calls[-1]["messages"][-1]["content"]


def _nowhere(repo, text: str) -> bool:
    """`text` is in no commit of any ref and no file under .agentos/ (state.db's bytes included) but
    the script that played the model."""
    history = subprocess.run(["git", "log", "-p", "--all"], cwd=repo, capture_output=True, check=True).stdout
    script = repo / ".agentos" / "scripted"
    files = [p for p in (repo / ".agentos").rglob("*") if p.is_file() and not p.is_relative_to(script)]
    return text.encode() not in history and not any(text.encode() in p.read_bytes() for p in files)


def test_a_review_summary_longer_than_max_tokens_can_hold_is_refused_as_such(sample_repo):
    huge = "Looks fine. " + "x" * 1_000_000 + "END-OF-HUGE"
    edit_script(sample_repo, "reviewer", "triage.review", [{"data": {"verdict": "APPROVED", "summary": huge}}])
    with pytest.raises(AnswerTooLong, match=r"triage.review ran to 1,000,0\d\d characters, more than its max_tokens "
                                            r"\(8,192\) can hold"):
        run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True))
    assert _nowhere(sample_repo, "x" * 1000 + "END-OF-HUGE")


def test_a_verdict_field_too_long_for_later_prompts_is_refused_with_the_limit(sample_repo):
    long = "Looks fine. " + "y" * 30_000 + "END-OF-LONG"  # within max_tokens, past what a summary needs
    edit_script(sample_repo, "reviewer", "triage.review", [{"data": {"verdict": "APPROVED", "summary": long}}])
    edit_script(sample_repo, "reviewer", "triage.review.retry", [{"data": {"verdict": "APPROVED", "summary": long}}])
    result = run_workflow("triage", RunOptions(issue=1, repo=sample_repo, plain=True))
    assert result.exit_code == 4 and "did not return a valid Review" in result.message
    assert "summary is 30,023 characters; at most 2,000 are allowed" in result.message
    _, calls = _purposes(sample_repo, "triage")
    assert "at most 2,000 are allowed" in calls[-1]["messages"][-1]["content"]  # the reviewer was told why
    history = subprocess.run(["git", "log", "-p", "--all"], cwd=sample_repo, capture_output=True, text=True).stdout
    assert "y" * 1000 not in history  # neither in the brief's review log nor in any commit
