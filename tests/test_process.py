"""agentos.process: the one bounded process runner (process group, timeout, head and tail, kill policy)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from agentos.process import end_children, run_bounded
from tests.llm.fakes.cli import gone

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to check processes")


def test_run_bounded_takes_an_argv_and_stdin_and_keeps_only_the_ends(tmp_path: Path):
    task = tmp_path / "task.md"
    task.write_text("the task\n")
    script = "import sys; print(sys.stdin.read().strip()); print('x' * 100000)"

    run = run_bounded([sys.executable, "-c", script], tmp_path, timeout_s=30, stdin=task,
                      head_chars=50, tail_chars=50)

    assert run.exit_code == 0 and run.total_chars == len("the task\n") + 100001
    assert run.head.startswith("the task\nxxx") and len(run.head) == 50 and len(run.tail) == 50
    assert "characters of output cut" in run.clipped(200)


def test_text_on_stdin_is_fed_while_the_child_talks_and_stderr_can_be_kept_apart(tmp_path: Path):
    # The child prints more than a pipe holds before it reads: feeding stdin must not block on it.
    script = ("import sys; sys.stdout.write('o' * 300000); sys.stdout.flush(); data = sys.stdin.read(); "
              "sys.stderr.write('warning: noise\\n'); print(len(data)); sys.exit(4)")

    run = run_bounded([sys.executable, "-c", script], tmp_path, timeout_s=30, stdin="é" * 200000,
                      head_chars=10, tail_chars=400000, stderr_apart=True)

    assert run.exit_code == 4 and not run.timed_out
    assert run.clipped(400000) == "o" * 300000 + "200000\n"
    assert run.stderr == "warning: noise\n"


def test_the_environment_is_ours_or_the_given_base_with_the_overlay_on_top(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AGENTOS_OURS", "ours")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    show = 'printf "%s|%s|%s|%s" "$AGENTOS_OURS" "$AGENTOS_BASE" "$AGENTOS_OVER" "$PYTHONDONTWRITEBYTECODE"'

    inherited = run_bounded(show, tmp_path, 30, env={"AGENTOS_OVER": "over"}, head_chars=100, tail_chars=100)
    based = run_bounded(show, tmp_path, 30, base_env={"PATH": os.environ["PATH"], "AGENTOS_BASE": "base"},
                        env={"AGENTOS_BASE": "replaced"}, head_chars=100, tail_chars=100)

    assert inherited.tail == "ours||over|1"
    assert based.tail == "|replaced||1"


def test_output_between_the_tail_and_the_limit_is_kept_whole(tmp_path: Path):
    run = run_bounded("printf 'a%.0s' $(seq 150); printf 'b%.0s' $(seq 100)", tmp_path, 30,
                      head_chars=100, tail_chars=200)

    assert run.total_chars == 250 and len(run.tail) == 200
    assert run.clipped(300) == "a" * 150 + "b" * 100


@needs_proc
def test_a_timeout_ends_the_whole_group_and_reports_no_exit_code(tmp_path: Path):
    started = time.monotonic()
    run = run_bounded("sleep 60 & echo $! > child.pid; echo started; sleep 60", tmp_path, timeout_s=1,
                      head_chars=100, tail_chars=100)

    assert run.timed_out and run.exit_code is None and run.tail == "started\n"
    assert time.monotonic() - started < 30
    assert gone(int((tmp_path / "child.pid").read_text()))


@needs_proc
@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_an_interrupted_caller_ends_the_group_before_the_interrupt_goes_on(tmp_path: Path):
    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_bounded("sleep 60 & echo $! > child.pid; sleep 60", tmp_path, timeout_s=60,
                        head_chars=100, tail_chars=100)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(int((tmp_path / "child.pid").read_text()))


def test_a_command_that_cannot_start_raises_oserror(tmp_path: Path):
    with pytest.raises(OSError):
        run_bounded(["agentos-no-such-binary"], tmp_path, 30, head_chars=10, tail_chars=10)
    with pytest.raises(OSError):
        run_bounded("true", tmp_path / "missing", 30, head_chars=10, tail_chars=10)


@needs_proc
def test_end_children_ends_the_groups_of_commands_other_threads_started(tmp_path: Path):
    """The CLI's way out after Ctrl-C or SIGTERM: the signal reaches the main thread only."""
    runs = []
    worker = threading.Thread(target=lambda: runs.append(run_bounded(
        "sleep 60 & echo $! > child.pid; sleep 60", tmp_path, timeout_s=120, head_chars=10, tail_chars=10)))
    worker.start()
    pid_file = tmp_path / "child.pid"
    while worker.is_alive() and not (pid_file.exists() and pid_file.read_text().strip()):
        time.sleep(0.02)

    end_children()

    worker.join(timeout=30)
    assert not worker.is_alive() and runs and not runs[0].timed_out
    assert gone(int(pid_file.read_text()))


@needs_proc
def test_a_background_command_writes_its_log_and_ends_with_its_group(tmp_path: Path):
    from agentos.process import Background

    done = Background([sys.executable, "-c", "print('hello')"], tmp_path, tmp_path / "logs" / "a.log")
    deadline = time.monotonic() + 30
    while done.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.exit_code() == 0 and (tmp_path / "logs" / "a.log").read_text() == "hello\n"

    going = Background(["sh", "-c", "sleep 60 & echo $! > child.pid; sleep 60"], tmp_path, tmp_path / "b.log")
    while not (tmp_path / "child.pid").exists() or not (tmp_path / "child.pid").read_text().strip():
        time.sleep(0.05)
    assert going.exit_code() is None
    going.end()
    assert going.exit_code() is not None and gone(going.pid)
    assert gone(int((tmp_path / "child.pid").read_text()))
