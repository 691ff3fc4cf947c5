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
    assert runs.take_decision(layout, record) == {"gate": "before_pr", "action": "approve", "feedback": None,
                                                  "paused_at": None}
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


def _paused(layout: RepoLayout, pause: str) -> runs.RunRecord:
    record = runs.latest(layout, 7) or runs.new_run(layout, 7, "orchestrate")
    record.status, record.gate, record.extra[runs.PAUSE_KEY] = "paused", {"gate": "after_lld"}, pause
    runs.save(layout, record)
    return record


def test_a_decision_is_taken_again_until_consumed_and_only_for_its_pause(tmp_path: Path) -> None:
    layout = RepoLayout(tmp_path)
    record = _paused(layout, "ckpt-1")
    runs.save_decision(layout, record, {"gate": "after_lld", "action": "approve", "feedback": None})
    assert runs.take_decision(layout, record)["action"] == "approve"
    assert runs.take_decision(layout, record)["action"] == "approve"  # reading does not use it up
    runs.consume_decision(layout, record, "ckpt-0")  # another pause's: stays
    assert runs.take_decision(layout, record) is not None
    later = _paused(layout, "ckpt-2")  # the run moved on and paused again at the same gate
    assert runs.take_decision(layout, later) is None
    assert not runs.decision_path(layout, later).exists()


@pytest.mark.parametrize("junk", [b"", b"{", b"\xff\xfe\x00", b"[1, 2]", b'{"gate": "after_lld"}'])
def test_a_file_that_is_not_a_decision_is_named(tmp_path: Path, junk: bytes) -> None:
    from agentos.errors import UsageError

    layout = RepoLayout(tmp_path)
    record = _paused(layout, "ckpt-1")
    runs.decision_path(layout, record).write_bytes(junk)
    with pytest.raises(UsageError, match="decision.json is not a gate decision") as caught:
        runs.take_decision(layout, record)
    assert "agentos approve 7" in caught.value.hint
