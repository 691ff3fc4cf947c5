"""Shared state in a real PostgreSQL server: the database refused with a clear error when it cannot
be used, and a run killed on one machine (a clone) continued on another from its checkpoint,
without paying again for a model call that had finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agentos.errors import ExitCode, UsageError
from agentos import state
from tests.helpers.repos import git
from tests.helpers.sample import edit_script, script_replies
from tests.helpers.shared_state import TOKEN, git_only_path, journal_digests, scripted_calls, share

pytestmark = pytest.mark.real_component


def test_a_database_that_does_not_answer_is_a_usage_error(postgres):
    with pytest.raises(UsageError) as caught:
        state.prepare(f"postgresql://nobody:secret@127.0.0.1:{postgres.port + 1}/none")
    assert caught.value.exit_code == ExitCode.USAGE
    assert "cannot connect to the state database" in str(caught.value) and "secret" not in str(caught.value)
    assert "state.url" in caught.value.hint


def test_a_database_that_refuses_our_tables_is_a_usage_error(postgres):
    postgres.sql("CREATE ROLE weakling LOGIN")
    postgres.sql("CREATE DATABASE locked")
    postgres.sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", db="locked")
    with pytest.raises(UsageError) as caught:
        state.prepare(postgres.url("weakling", "locked"))
    assert "refuses us" in str(caught.value) and "permission denied" in str(caught.value)
    assert "grant" in caught.value.hint


def _orchestrate(root, env) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--repo", str(root), "--plain",
           "--no-gate-before-pr"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_a_run_killed_in_one_clone_continues_in_another(sample_repo, tmp_path, postgres):
    url = postgres.new_database("handover", owner="agentos_handover")
    reviews = script_replies(sample_repo, "reviewer", "lld.review")
    edit_script(sample_repo, "reviewer", "lld.review", [reviews[0], {**reviews[1], "delay_s": 60}])
    fake, origin = share(sample_repo, tmp_path, url)
    env = {**os.environ, "PATH": git_only_path(tmp_path / "bin"), "GITHUB_TOKEN": TOKEN}
    try:
        first = _orchestrate(sample_repo, env)
        deadline = time.monotonic() + 120
        while not any(c["purpose"] == "lld.review" and c["turn"] == 1 for c in scripted_calls(sample_repo)):
            assert time.monotonic() < deadline and first.poll() is None, "never reached the second LLD review"
            time.sleep(0.1)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        finished, sent_before = journal_digests(sample_repo), scripted_calls(sample_repo)

        other = tmp_path / "other-machine"
        git(tmp_path, "clone", "-q", str(origin), str(other))
        edit_script(other, "reviewer", "lld.review", reviews)  # no delay this time
        second = _orchestrate(other, env)
        out, _ = second.communicate(timeout=240)
        assert second.returncode == 0, out
        assert "resumed" in out
    finally:
        fake.stop()
    assert [pr["head"]["ref"] for pr in fake.pulls.values()] == ["agentos/issue-1"]
    # The run folder came back from the database (its request log too), then grew on the other machine.
    restored, sent_after = scripted_calls(other)[:len(sent_before)], scripted_calls(other)[len(sent_before):]
    assert restored == sent_before
    assert not ({c["digest"] for c in sent_after} & finished), "a finished call was paid again on the other machine"
    assert {c["purpose"] for c in sent_after} >= {"lld.review", "spec.draft", "impl.red"}
    assert "triage.draft" not in {c["purpose"] for c in sent_after}
    assert fake.problems == []
