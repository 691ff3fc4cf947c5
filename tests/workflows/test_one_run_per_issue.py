"""Two real processes on one issue: the second is refused (exit 2, naming the first's pid, host and
start) or, with --wait, continues when the first ends; runs of different issues stay parallel.

The first run is held inside its triage model call by a loopback model server that answers only
when the test says so, so the second starts while the first is provably alive: no sleeps."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE
from agentos.forge.local import LocalForge
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.sample import edit_config, script_replies
from tests.llm.fakes import openai
from tests.llm.fakes.server import FakeServer, Recorded, Reply

pytestmark = pytest.mark.slow  # real processes end to end: make test, not make test-fast


class HeldModel(FakeServer):
    """An OpenAI-compatible model that tells the test each request has arrived (`arrived`) and
    answers the triage draft only once the test says so (`go`)."""

    def __init__(self, draft: str):
        super().__init__(openai.server(key=None).check)
        self.draft = draft
        self.arrived = threading.Semaphore(0)
        self.go = threading.Event()

    def next_reply(self, request: Recorded) -> Reply:
        self.arrived.release()
        assert self.go.wait(120), "the test never released the model"
        with self._lock:
            self.requests.append(request)
        return openai.stream(self.draft)


@pytest.fixture
def held(sample_repo: Path):
    draft = script_replies(sample_repo, "drafter", "triage.draft")[0]["text"]
    edit_config(sample_repo, stages={"triage": {"drafter": "openai-compatible:held"}},
                providers={"openai-compatible": {"max_attempts": 1, "timeout_s": 120}})
    servers: list[HeldModel] = []

    def start() -> HeldModel:
        server = HeldModel(draft).start()
        servers.append(server)
        edit_config(sample_repo, providers={"openai-compatible": {"base_url": f"{server.url}/v1"}})
        return server

    yield start
    for server in servers:
        server.go.set()
        server.stop()


def _start(repo: Path, *args: str, command: str = "orchestrate") -> subprocess.Popen:
    module = "agentos.cli.orchestrate" if command == "orchestrate" else "agentos.cli.main"
    argv = [sys.executable, "-m", module, *([] if command == "orchestrate" else [command]), *args,
            "--repo", str(repo), "--plain"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _arrived(model: HeldModel, *procs: subprocess.Popen) -> None:
    """Block until a model request arrived (or a process ended without making one)."""
    while not model.arrived.acquire(timeout=1):
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"exited {proc.returncode} before its model call: {proc.communicate()}")


def test_a_second_run_of_the_same_issue_exits_2_naming_the_first_or_waits(sample_repo, held):
    model = held()
    first = _start(sample_repo, "--issue", "1")
    _arrived(model, first)  # the first run is now inside its paid triage call

    for command, args in (("orchestrate", ["--issue", "1"]), ("lld", ["--issue", "1"])):
        second = _start(sample_repo, *args, command=command)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        said = out + err
        assert f"issue #1 is already being run by pid {first.pid} on {socket.gethostname()} since " in said
        assert "--wait" in said and "Traceback" not in said

    waiter = _start(sample_repo, "--issue", "1", "--wait")
    assert f"waiting for the run of issue #1 by pid {first.pid}" in waiter.stderr.readline()
    model.go.set()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, (out, err)
    out, err = waiter.communicate(timeout=300)
    assert waiter.returncode == 0 and "issue #1 is already done" in out, (out, err)
    assert len(model.requests) == 1  # the triage draft was paid once
    assert len(list((sample_repo / ".agentos" / "pulls").glob("*.md"))) == 1


def test_a_lock_left_by_a_killed_run_is_taken_over(sample_repo, held):
    model = held()
    first = _start(sample_repo, "--issue", "1")
    _arrived(model, first)
    first.kill()
    first.communicate()
    record = sample_repo / ".agentos" / "runs" / ".locks" / "issue-1.json"
    assert json.loads(record.read_text())["pid"] == first.pid  # left behind by the killed run
    model.go.set()
    again = _start(sample_repo, "--issue", "1")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "PR: " in out, (out, err)
    assert not record.exists()


def test_runs_of_different_issues_stay_parallel(sample_repo, held):
    forge = LocalForge(sample_repo)
    issues = [1] + [forge.create_issue(f"{ISSUE_TITLE} ({i})", ISSUE_BODY, ["bug"]).number for i in range(3)]
    edit_config(sample_repo, gates={"after_triage": True})
    model = held()
    procs = [_start(sample_repo, "--issue", str(n), "--no-input") for n in issues]
    for _ in issues:  # every run is inside its triage call at the same time
        _arrived(model, *procs)
    model.go.set()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 3 and "paused at gate after triage" in out, (out, err)


def test_poll_does_not_continue_an_issue_another_process_is_running(sample_repo):
    edit_config(sample_repo, gates={"after_triage": True})
    assert orchestrate(RunOptions(issue=1, repo=sample_repo, plain=True)).exit_code == 3
    assert CliRunner().invoke(agentos_app, ["approve", "1", "--repo", str(sample_repo)]).exit_code == 0
    holder = subprocess.Popen(  # another process continuing issue 1, alive until its stdin closes
        [sys.executable, "-c", "import sys; from pathlib import Path; from agentos.paths import RepoLayout; "
         "from agentos.runlock import issue_lock\n"
         f"with issue_lock(RepoLayout(Path({str(sample_repo)!r})), 1, 'orchestrate --issue 1'):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        polled = CliRunner().invoke(agentos_app, ["poll", "--repo", str(sample_repo), "--plain"])
        assert polled.exit_code == 2, polled.output
        assert f"#1: issue #1 is already being run by pid {holder.pid}" in polled.output
    finally:
        holder.communicate("")
    continued = CliRunner().invoke(agentos_app, ["poll", "--repo", str(sample_repo), "--plain"])
    assert continued.exit_code == 0 and "#1: PR: " in continued.output, continued.output  # the decision was kept
