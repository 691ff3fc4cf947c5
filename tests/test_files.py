"""agentos.files: atomic writes and crash-tolerant JSONL."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agentos.files import append_line, read_jsonl, write_atomic


def test_write_atomic_creates_folders_and_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "run.json"
    write_atomic(path, "first\r\n")
    write_atomic(path, "second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "run.json"
    write_atomic(path, "old")

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_write_atomic_fsyncs_the_file_and_its_folder(tmp_path: Path, monkeypatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    write_atomic(tmp_path / "run.json", "x")
    assert len(synced) == 2 and synced[0].endswith(".tmp") and synced[1] == str(tmp_path)


def test_append_line_creates_the_file_and_ends_each_record(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r1" / "spend.jsonl"
    append_line(path, json.dumps({"n": 1}))
    append_line(path, json.dumps({"n": 2}))
    assert path.read_text() == '{"n": 1}\n{"n": 2}\n'


def test_append_after_a_torn_last_line_starts_a_new_line(tmp_path: Path) -> None:
    """A record cut by a crash must not swallow the next one: the append begins with a newline."""
    path = tmp_path / "calls.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "cut', encoding="utf-8")
    append_line(path, json.dumps({"n": 3}))
    assert path.read_text() == '{"n": 1}\n{"n": 2, "cut\n{"n": 3}\n'
    assert read_jsonl(path) == [{"n": 1}, {"n": 3}]


def test_append_line_fsyncs(tmp_path: Path, monkeypatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    append_line(tmp_path / "x.jsonl", "{}")
    assert len(synced) == 1


def test_read_jsonl_skips_torn_and_non_object_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    text = '{"a": 1}\n\n[1, 2]\n{"b": "line\u2028separator"}\n{"c": 3}\r\n7'
    path.write_bytes(text.encode("utf-8") + '{"d": "caf\u00e9'.encode("utf-8")[:-1])
    assert read_jsonl(path) == [{"a": 1}, {"b": "line\u2028separator"}, {"c": 3}]


def test_read_jsonl_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_jsonl(tmp_path / "none.jsonl") == []


def test_temporary_files_of_killed_writers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    """A kill between the temporary file and the rename leaves the file; nothing else would remove it."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [tmp_path / f".run.json.{dead.pid}.0123abcd.tmp", tmp_path / f".decision.json.{dead.pid}.89abcdef.tmp"]
    alive = tmp_path / f".run.json.{os.getppid()}.0123abcd.tmp"  # a writer still at work
    mine = tmp_path / f".run.json.{os.getpid()}.0123abcd.tmp"  # another thread of ours
    others = [tmp_path / ".hidden.tmp", tmp_path / "notes.1.0123abcd.tmp"]
    for path in [*stale, alive, mine, *others]:
        path.write_text("half")

    write_atomic(tmp_path / "run.json", "{}")

    assert set(tmp_path.iterdir()) == {alive, mine, *others, tmp_path / "run.json"}
