"""Run records and gate decisions: written atomically, read back as written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentos import runs
from agentos.paths import RepoLayout


def test_record_and_decision_round_trip_without_temp_files(tmp_path: Path) -> None:
    layout = RepoLayout(tmp_path)
    record = runs.new_run(layout, 7, "orchestrate")
    record.status, record.gate = "paused", {"gate": "before_pr", "stage": "pr"}
    runs.save(layout, record)
    runs.save_decision(layout, record, {"gate": "before_pr", "action": "approve", "feedback": None})
    assert runs.latest(layout, 7) == record
    assert runs.take_decision(layout, record) == {"gate": "before_pr", "action": "approve", "feedback": None}
    assert sorted(p.name for p in layout.run_dir(record.run_id).iterdir()) == ["decision.json", "run.json"]


def test_a_failed_decision_write_leaves_no_half_file(tmp_path: Path, monkeypatch) -> None:
    layout = RepoLayout(tmp_path)
    record = runs.new_run(layout, 7, "orchestrate")

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        runs.save_decision(layout, record, {"gate": "before_pr", "action": "approve"})
    assert runs.take_decision(layout, record) is None
    assert [p.name for p in layout.run_dir(record.run_id).iterdir()] == ["run.json"]
