"""The runs list the server keeps between requests: the same answer while nothing changed, a
fresh one as soon as a run's files change or while a run is running."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentos.commands.gates import poll, record_decision
from agentos.paths import RepoLayout
from agentos.web.listing import RunsListing
from agentos.workflows.orchestrator.session import RunOptions


def test_the_list_is_kept_until_a_run_changes(paused_repo: Path):
    listing = RunsListing(RepoLayout(paused_repo))
    first = listing.summaries()
    assert listing.summaries() is first and first[0].gate == "after_lld"

    record_decision(RunOptions(issue=1, repo=paused_repo), "approve", None)
    assert listing.summaries() is first  # a decision is no change of the run until it is taken
    poll(paused_repo)
    moved = listing.summaries()
    assert moved is not first and moved[0].status == "paused" and moved[0].gate == "before_pr"


def test_a_running_run_is_read_again_every_time(paused_repo: Path):
    record_path = next((paused_repo / ".agentos" / "runs").glob("*/run.json"))
    record = json.loads(record_path.read_text())
    record.update(status="running", gate=None, process={"pid": os.getpid(), "host": os.uname().nodename})
    record_path.write_text(json.dumps(record))
    listing = RunsListing(RepoLayout(paused_repo))

    first = listing.summaries()
    assert first[0].status == "running"
    assert listing.summaries() is not first
