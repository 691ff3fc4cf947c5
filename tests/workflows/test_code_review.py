"""The code review stage through the real pipeline: a scripted implementer makes the change,
a scripted reviewer reviews the diff and writes tests to break it, and the loop's every end."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.cli.orchestrate import app as orchestrate_app
from agentos.progress.log import read_events
from agentos.progress.view import RunView
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.repos import git
from tests.workflows.impl_repo import FINISH, call, replace, reply, worktree
from tests.workflows.review_repo import (
    FIXED, NAN_CHECK, NAN_TEST, calls, docstring_fix, finding, fixes, review_folder, reviewer, sent, target, verdict,
)

BRANCH = "agentos/issue-1"


def run(repo):
    return orchestrate(RunOptions(issue=1, repo=repo, plain=True))


def subjects(repo) -> list[str]:
    return git(repo, "log", "--format=%s", f"main..{BRANCH}").splitlines()


def pr_body(repo) -> str:
    [record] = (repo / ".agentos" / "pulls").glob("*.md")
    return record.read_text()


def test_approved_on_the_first_round(tmp_path):
    repo = target(tmp_path / "repo")
    reviewer(repo, verdict("APPROVED", "Does what the spec asks.", [finding("C1", "Name lo/hi in the error.", "minor")]))
    result = run(repo)
    assert result.exit_code == 0, result.message
    review = result.state["stage_results"]["review"]
    assert review["exit_reason"] == "approved" and review["rounds"] == 1
    assert subjects(repo)[0] == "fix: clamp ignores its upper bound (#1)"  # nothing added by the review
    [prompt] = sent(repo, "review.review")
    assert '<data name="diff against the base">' in prompt and "+        raise ValueError('lo > hi')" in prompt
    assert '<data name="approved implementation spec">' in prompt and '<data name="test report">' in prompt
    assert "tests/test_ops.py::test_clamp_high: passed" in prompt  # base → red → green, test by test
    body = pr_body(repo)
    assert "**Code review**: APPROVED by `scripted:.agentos/scripted/reviewer.yaml` after 1 round" in body
    assert "unresolved minor finding C1 (`calc/ops.py:5-9`): Name lo/hi in the error." in body
    round_1 = review_folder(repo) / "round-1"
    assert {p.name for p in round_1.iterdir()} >= {"prompt.md", "response.md", "verdict.json"}
    # The live view (folded from the run's events) has the stage between impl and pr, with its call.
    view = RunView.from_events(read_events(review_folder(repo).parent / "events.jsonl"))
    assert list(view.stages)[-3:] == ["impl", "review", "pr"]
    assert view.stages["review"].status == "PASS" and view.stages["review"].calls == 1
    status = json.loads(CliRunner().invoke(agentos_app, ["status", "1", "--repo", str(repo), "--json"]).output)
    assert next(s for s in status["stages"] if s["name"] == "review")["exit_reason"] == "approved"
    assert status["code_review"]["verdict"] == "APPROVED" and status["code_review"]["rounds"] == 1


def test_revise_then_fix_then_approve(tmp_path):
    repo = target(tmp_path / "repo")
    reviewer(repo, verdict("REVISE", "The error is undocumented.", [finding("F1", "Document the ValueError.")]),
             verdict("APPROVED", "Documented."))
    fixes(repo, docstring_fix(), FINISH)
    result = run(repo)
    assert result.exit_code == 0, result.message
    assert result.state["stage_results"]["review"]["rounds"] == 2
    [task] = sent(repo, "review.green")[:1]
    assert "F1 [major] calc/ops.py:5-9 (AC1): Document the ValueError." in task
    assert subjects(repo)[0] == "fix: address the code review of clamp ignores its upper bound (#1)"
    assert "Raises ValueError when lo > hi." in git(repo, "show", f"{BRANCH}:calc/ops.py")
    second = sent(repo, "review.review")[1]
    assert "Raises ValueError when lo > hi." in second  # the reviewer looks at the new diff
    assert "F1 [major]" in second.split('<data name="your last round">')[1]


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_failing_adversarial_test_is_fixed_then_kept_in_its_own_commit(tmp_path):
    repo = target(tmp_path / "repo")
    nan = {"path": "tests/test_clamp_nan.py", "content": NAN_TEST, "expects": "NaN is rejected"}
    reviewer(repo, verdict("APPROVED", "Looks right, but NaN may slip through.", tests=[nan]),
             verdict("APPROVED", "NaN is rejected now."))
    fixes(repo, replace(FIXED, NAN_CHECK), FINISH)
    result = run(repo)
    assert result.exit_code == 0, result.message
    [task] = sent(repo, "review.green")[:1]
    assert "the reviewer's test tests/test_clamp_nan.py fails on the change" in task
    assert "DID NOT RAISE" in task  # its output went with it
    assert subjects(repo)[:2] == ["fix: address the code review of clamp ignores its upper bound (#1)",
                                  "test: adversarial tests from the code review of clamp ignores its upper bound (#1)"]
    assert git(repo, "show", "--name-only", "--format=", f"{BRANCH}~1").split() == ["tests/test_clamp_nan.py"]
    assert git(repo, "show", f"{BRANCH}:tests/test_clamp_nan.py") == NAN_TEST
    review = result.state["stage_results"]["review"]
    assert [t["path"] for t in review["kept_tests"]] == ["tests/test_clamp_nan.py"]
    assert result.state["test_run"]["failed"] == 0 and result.state["test_run"]["passed"] == 5
    body = pr_body(repo)
    assert "kept because they pass: `tests/test_clamp_nan.py`" in body
    assert "Adversarial test `tests/test_clamp_nan.py` failed in round 1; fixed before approval" in body
    recorded = json.loads((review_folder(repo) / "round-1" / "adversarial.json").read_text())
    assert recorded[0]["status"] == "failing" and recorded[0]["content"] == NAN_TEST


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_test_that_does_not_load_does_not_hide_one_that_fails(tmp_path):
    repo = target(tmp_path / "repo")
    broken = {"path": "tests/test_clamp_broken.py", "content": "import no_such_module\n\ndef test_x():\n    pass\n"}
    nan = {"path": "tests/test_clamp_nan.py", "content": NAN_TEST}
    reviewer(repo, verdict("APPROVED", "Fine.", tests=[broken, nan]), verdict("APPROVED", "Fine now."))
    fixes(repo, replace(FIXED, NAN_CHECK), FINISH)
    result = run(repo)
    assert result.exit_code == 0, result.message
    statuses = {t["path"]: t["status"] for t in result.state["stage_results"]["review"]["adversarial_log"]}
    assert statuses == {"tests/test_clamp_broken.py": "broken", "tests/test_clamp_nan.py": "failing"}
    assert "ModuleNotFoundError" in sent(repo, "review.review")[1]
    assert [t["path"] for t in result.state["stage_results"]["review"]["kept_tests"]] == ["tests/test_clamp_nan.py"]


@pytest.mark.slow  # seconds of whole-pipeline work
def test_the_implementer_may_not_edit_the_reviewers_test(tmp_path):
    repo = target(tmp_path / "repo", implementation={"max_test_retries": 1})
    nan = {"path": "tests/test_clamp_nan.py", "content": NAN_TEST}
    reviewer(repo, verdict("REVISE", "NaN slips through.", tests=[nan]), verdict("APPROVED", "Fine."))
    weaken = reply(call("write_file", path="tests/test_clamp_nan.py", content="def test_clamp_rejects_nan():\n    pass\n"))
    fixes(repo, weaken, FINISH, replace(FIXED, NAN_CHECK), FINISH)
    result = run(repo)
    assert result.exit_code == 0, result.message
    [log] = review_folder(repo).glob("tool-calls.jsonl")
    refused = [json.loads(line) for line in log.read_text().splitlines() if json.loads(line)["refused"]]
    assert refused and "a test the code reviewer wrote" in refused[0]["result"]
    assert git(repo, "show", f"{BRANCH}:tests/test_clamp_nan.py") == NAN_TEST


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_test_that_does_not_run_goes_back_to_the_reviewer_once(tmp_path):
    repo = target(tmp_path / "repo")
    broken = {"path": "tests/test_clamp_broken.py", "content": "def test_x(:\n    pass\n"}
    escape = {"path": "../../escape_test.py", "content": "def test_x():\n    pass\n"}
    not_a_test = {"path": "calc/ops.py", "content": "x = 1\n"}
    reviewer(repo, verdict("APPROVED", "Fine.", tests=[broken, escape, not_a_test]),
             verdict("APPROVED", "Still fine.", tests=[broken]), verdict("APPROVED", "unused"))
    result = run(repo)
    assert result.exit_code == 0, result.message
    review = result.state["stage_results"]["review"]
    assert review["rounds"] == 2  # back once; the second broken test is dropped, not sent back again
    second = sent(repo, "review.review")[1].split('<data name="your last round">')[1]
    assert "tests/test_clamp_broken.py: broken: the file did not load" in second and "SyntaxError" in second
    assert "../../escape_test.py: refused: '../../escape_test.py': a path relative to the repository" in second
    statuses = {(t["round"], t["path"]): t["status"] for t in review["adversarial_log"]}
    assert statuses == {(1, "tests/test_clamp_broken.py"): "broken", (1, "../../escape_test.py"): "refused",
                        (1, "calc/ops.py"): "refused", (2, "tests/test_clamp_broken.py"): "broken"}
    assert not (tmp_path / "escape_test.py").exists() and not (repo.parent / "escape_test.py").exists()
    assert not (worktree(repo) / "tests/test_clamp_broken.py").exists()
    assert "def clamp" in git(repo, "show", f"{BRANCH}:calc/ops.py")
    assert "test_clamp_broken" not in git(repo, "log", "--stat", f"main..{BRANCH}")


@pytest.mark.slow  # seconds of whole-pipeline work
def test_a_reviewer_that_never_approves_blocks_at_the_cap_with_the_best_state_kept(tmp_path):
    repo = target(tmp_path / "repo", review={"max_rounds": 2})
    reviewer(repo, verdict("REVISE", "Undocumented.", [finding("F1", "Document the ValueError.")]),
             verdict("REVISE", "Still unhappy.", [finding("F2", "Rename lo and hi to low and high.")]))
    worse = replace("    return a + b", "    return a - b")  # breaks test_add: rolled back
    fixes(repo, worse, FINISH, docstring_fix(), FINISH)
    result = run(repo)
    assert result.exit_code == 4
    review = result.state["stage_results"]["review"]
    assert review["exit_reason"] == "max_rounds" and review["verdict"] == "BLOCK"
    assert "not approved after 2 review rounds: F2: Rename lo and hi" in review["message"]
    assert [f["id"] for f in review["unresolved"]] == ["F2"]
    ops = (worktree(repo) / "calc/ops.py").read_text()
    assert "return a + b" in ops and "Raises ValueError when lo > hi." in ops  # best state: regression rolled back
    assert not git(worktree(repo), "status", "--porcelain").strip()
    assert not (repo / ".agentos" / "pulls").exists()
    report = (review_folder(repo) / "report.md").read_text()
    assert "(max_rounds)" in report and "F2 [major]" in report


@pytest.mark.slow  # seconds of whole-pipeline work
def test_the_same_finding_after_a_claimed_fix_is_stagnation(tmp_path):
    repo = target(tmp_path / "repo", review={"max_rounds": 5})
    same = finding("F1", "Document the ValueError.")
    reviewer(repo, verdict("REVISE", "Undocumented.", [same]), verdict("REVISE", "Still undocumented.", [same]))
    fixes(repo, docstring_fix("It may raise."), FINISH)
    result = run(repo)
    assert result.exit_code == 4
    review = result.state["stage_results"]["review"]
    assert review["exit_reason"] == "stagnation"
    assert "finding F1 raised again after a fix round that addressed it" in review["message"]
    assert len(sent(repo, "review.review")) == 2


@pytest.mark.slow  # seconds of whole-pipeline work
def test_rejected_after_review_the_feedback_reaches_the_implementer(tmp_path):
    repo = target(tmp_path / "repo", gates={"after_review": True})
    reviewer(repo, verdict("APPROVED", "Does what the spec asks."))
    fixes(repo, docstring_fix("Raises ValueError."), FINISH)
    paused = run(repo)
    assert paused.exit_code == 3 and "gate after code review" in paused.message
    rejected = CliRunner().invoke(agentos_app, ["reject", "1", "--repo", str(repo), "--feedback", "Document the error"])
    assert rejected.exit_code == 0, rejected.output
    again = run(repo)
    assert again.exit_code == 3  # fixed, reviewed again, back at the gate
    [task] = sent(repo, "review.green")[:1]
    assert "H1 [blocking] (human approver): Document the error" in task
    assert len(sent(repo, "review.review")) == 2
    CliRunner().invoke(agentos_app, ["approve", "1", "--repo", str(repo)])
    done = run(repo)
    assert done.exit_code == 0, done.message
    assert "Raises ValueError." in git(repo, "show", f"{BRANCH}:calc/ops.py")


@pytest.mark.slow  # seconds of whole-pipeline work
def test_resume_from_review_reviews_the_branch_again_and_updates_the_pr(tmp_path):
    repo = target(tmp_path / "repo")
    reviewer(repo, verdict("APPROVED", "Fine."), verdict("APPROVED", "Still fine."))
    assert run(repo).exit_code == 0
    before = len(calls(repo))
    again = orchestrate(RunOptions(issue=1, repo=repo, plain=True, resume_from="review"))
    assert again.exit_code == 0, again.message
    assert {c["purpose"] for c in calls(repo)[before:]} == {"review.review"}
    assert again.state["plan"]["impl"]["action"] == "skip"
    assert len(list((repo / ".agentos" / "pulls").glob("*.md"))) == 1


def test_a_reviewer_that_is_the_implementer_is_warned_about(tmp_path):
    repo = target(tmp_path / "repo", review={"reviewer": "scripted:.agentos/scripted/implementer.yaml"})
    plan = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--repo", str(repo), "--dry-run", "--gate-after-review"])
    assert plan.exit_code == 0, plan.output
    assert "review  RUN   reviews the diff, tries to break it" in plan.output
    assert "warning: review implementer and reviewer are the same model" in plan.output
    assert "gate after_review: human approval" in plan.output
