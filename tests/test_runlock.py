"""The issue lock on its own: held against a second holder, free for another issue, released when
its holder dies, and the claim-file fallback for file systems without locks."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from agentos import runlock
from agentos.paths import RepoLayout
from agentos.runlock import IssueLocked, issue_lock, lock_path


@pytest.fixture
def layout(tmp_path):
    return RepoLayout(tmp_path)


def test_a_second_holder_of_one_issue_is_refused_and_other_issues_are_free(layout):
    with issue_lock(layout, 7, "orchestrate --issue 7") as me:
        with pytest.raises(IssueLocked) as caught:
            with issue_lock(layout, 7, "lld --issue 7"):
                pass
        assert caught.value.exit_code == 2 and caught.value.holder == me
        assert f"issue #7 is already being run by pid {me.pid} on {socket.gethostname()}" in caught.value.message
        assert "(orchestrate --issue 7)" in caught.value.message and "--wait" in caught.value.hint
        with issue_lock(layout, 8, "orchestrate --issue 8"):
            pass
    with issue_lock(layout, 7, "again"):  # released when the block ended
        pass


def test_the_lock_of_a_killed_holder_is_taken(layout):
    code = ("import os, signal; from pathlib import Path; from agentos.paths import RepoLayout; "
            "from agentos.runlock import issue_lock\n"
            f"with issue_lock(RepoLayout(Path({str(layout.root)!r})), 3, 'x'):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9
    record = lock_path(layout, 3).with_suffix(".json")
    assert json.loads(record.read_text())["pid"] > 0  # the dead holder's record is still there
    with issue_lock(layout, 3, "y") as me:
        assert runlock.read_holder(record) == me


@pytest.fixture
def no_flock(monkeypatch):
    """A file system without locks (e.g. NFS without lockd): flock fails with ENOLCK."""
    import fcntl

    def refuse(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)


def _claim(layout, **holder):
    record = lock_path(layout, 5).with_suffix(".json")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "what": "orchestrate --issue 5",
                                  "since": datetime.now(timezone.utc).isoformat(), **holder}))
    return record


def test_without_flock_a_live_claim_holds_and_names_the_file_to_delete(layout, no_flock):
    record = _claim(layout, host="build-2")
    with pytest.raises(IssueLocked) as caught:
        with issue_lock(layout, 5, "z"):
            pass
    assert "pid 1 on build-2" in caught.value.message and str(record) in caught.value.hint
    with issue_lock(layout, 6, "other issue"):
        assert runlock.read_holder(lock_path(layout, 6).with_suffix(".json")).what == "other issue"


def test_without_flock_a_dead_or_expired_claim_is_taken_over(layout, no_flock):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for holder in ({"pid": int(dead.stdout)},
                   {"host": "build-2", "since": (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()}):
        record = _claim(layout, **holder)
        with issue_lock(layout, 5, "mine") as me:
            assert runlock.read_holder(record) == me
        assert not record.exists()
