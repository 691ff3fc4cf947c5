"""The batch's views: the live table and `agentos batch status`, from the batch record and the runs."""

from __future__ import annotations

import io

from rich.console import Console

from agentos.batch import record as batches
from agentos.batch.view import LiveTable, batch_info, render
from agentos.paths import RepoLayout
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions


def test_rows_come_from_the_runs_and_totals_add_up(sample_repo):
    layout = RepoLayout(sample_repo)
    done = orchestrate(RunOptions(issue=1, repo=sample_repo))
    record = batches.new_batch(layout, "issues:1,2", "local", 2, 5.0, [(1, "first"), (2, "second")])
    entry = record.entry(1)
    entry.status, entry.run_id, entry.message = "done", done.run_id, done.message
    info = batch_info(layout, record)
    assert [(r["issue"], r["status"], r["stage"]) for r in info["issues"]] == [(1, "done", "pr"), (2, "queued", "")]
    assert info["totals"] == {"issues": 2, "done": 1, "queued": 1, "cost_usd": 0.0}
    text = render(info)
    assert "#1" in text and "done 1, queued 1" in text and "of $5.00" in text

    out = io.StringIO()
    table = LiveTable(layout, record, out, plain=True)
    Console(file=out, width=120).print(table._table())
    drawn = out.getvalue()
    assert "issue" in drawn and "stage" in drawn and "second" in drawn and "2 issues" in drawn
