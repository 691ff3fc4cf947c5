"""Which issues a batch takes, in which order, and the bad input refused before anything runs."""

from __future__ import annotations

import pytest

from agentos import runs
from agentos.batch.run import BatchOptions, batch_status, run_batch
from agentos.batch.select import parse_numbers, prioritize
from agentos.config import BatchConfig
from agentos.errors import ExitCode, UsageError
from agentos.forge.base import Issue
from agentos.paths import RepoLayout
from tests.helpers.batch import add_issues, demo_titles
from tests.helpers.sample import edit_config


def test_numbers_and_ranges():
    assert parse_numbers("3,5,8-12") == [3, 5, 8, 9, 10, 11, 12]
    assert parse_numbers(" 2, 2 ,1") == [2, 1]


@pytest.mark.parametrize("spec", ["3,,5", "a", "5-3", "1-99999"])
def test_bad_numbers_are_usage_errors(spec):
    with pytest.raises(UsageError) as caught:
        parse_numbers(spec)
    assert caught.value.exit_code == ExitCode.USAGE and "--issues" in caught.value.hint + str(caught.value)


def test_priority_labels_then_age():
    issues = [Issue(number=n, title="", labels=labels) for n, labels in
              [(1, []), (2, ["docs"]), (3, ["urgent"]), (4, ["docs", "urgent"]), (5, [])]]
    cfg = BatchConfig(priority_labels=["urgent", "docs"])
    assert [i.number for i in prioritize(issues, cfg)] == [3, 4, 2, 1, 5]
    newest = BatchConfig(priority_labels=["urgent"], oldest_first=False)
    assert [i.number for i in prioritize(issues, newest)] == [4, 3, 5, 2, 1]


def _refused(repo, **kw) -> str:
    with pytest.raises(UsageError) as caught:
        run_batch(BatchOptions(repo=repo, **kw))
    assert caught.value.exit_code == ExitCode.USAGE
    return str(caught.value)


def test_missing_and_closed_issues_are_named_together(sample_repo):
    said = _refused(sample_repo, issues="1,7-8")
    assert "#7" in said and "#8" in said and "#1" not in said.split("\n")[1:]
    assert not (sample_repo / ".agentos" / "batches").exists()


def test_label_with_no_open_issue(sample_repo):
    said = _refused(sample_repo, label="nonesuch")
    assert "no open issue has the label 'nonesuch'" in said


def test_unknown_engine_is_a_config_error(sample_repo):
    said = _refused(sample_repo, flags={"batch.engine": "slurm"})
    assert "batch.engine" in said and "'local' or 'ray'" in said


def test_a_model_that_is_not_ready_stops_the_batch_before_it_starts(sample_repo):
    edit_config(sample_repo, stages={"lld": {"drafter": "scripted:.agentos/scripted/missing.yaml"}})
    with pytest.raises(Exception) as caught:
        run_batch(BatchOptions(repo=sample_repo))
    assert caught.value.exit_code == ExitCode.USAGE and "missing.yaml" in str(caught.value)
    assert not (sample_repo / ".agentos" / "batches").exists()


def test_dry_run_prints_each_plan_with_an_estimate_and_writes_nothing(sample_repo):
    add_issues(sample_repo, demo_titles(2), labels=["urgent"])
    edit_config(sample_repo, stages={"lld": {"drafter": "claude:opus-4.5", "reviewer": "gemini:3-pro-preview"}},
                batch={"priority_labels": ["urgent"]})
    result = run_batch(BatchOptions(repo=sample_repo, dry_run=True))
    lines = result.message.splitlines()
    rows = [line for line in lines if line.strip().startswith("#")]
    assert [r.split()[0] for r in rows] == ["#2", "#3", "#1"]  # the urgent ones first
    assert all("triage lld spec impl review pr" in r for r in rows)
    low, high = (float(x.strip("$")) for x in rows[0].split()[-3].split("-$"))
    assert 0 < low < high  # the LLD's priced models, one round to every revision
    assert "total estimate: $" in result.message
    assert not (sample_repo / ".agentos" / "batches").exists()
    assert not (sample_repo / ".agentos" / "runs").exists()


def test_dry_run_says_an_issue_already_done_has_nothing_to_run(sample_repo):
    layout = RepoLayout(sample_repo)
    record = runs.new_run(layout, 1, "orchestrate")
    record.status = "done"
    runs.save(layout, record)
    result = run_batch(BatchOptions(repo=sample_repo, dry_run=True))
    row = next(line for line in result.message.splitlines() if line.strip().startswith("#1"))
    assert "done already: nothing to run" in row and "$" not in row
    assert result.message.startswith("Batch of 1 issue (")


def test_status_without_a_batch(sample_repo):
    with pytest.raises(UsageError) as caught:
        batch_status(sample_repo)
    assert "agentos batch --issues" in caught.value.hint


def test_numbers_and_a_label_together_are_refused(sample_repo):
    assert "--issues and --label" in _refused(sample_repo, issues="1", label="bug")
