"""What a person at a terminal sees and types, through a real pseudo-terminal (pexpect): the gate
prompt, Ctrl-D, approving by word, the live view's step line, status after a kill, runs and
show, and the dry run's exit codes. The pipeline runs for real on the sample repository with
scripted models."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.helpers.sample import edit_config, edit_script, script_replies

pytestmark = pytest.mark.slow  # real processes end to end: make test, not make test-fast

PROMPT = r"\(pause\): "


def _spawn(repo: Path, module: str, *args: str, columns: int = 80, rows: int = 40, **env: str) -> pexpect.spawn:
    environ = {**os.environ, "TERM": "xterm-256color", "PAGER": "cat", "COLUMNS": str(columns), "LINES": str(rows),
               **env}
    environ.pop("NO_COLOR", None)
    return pexpect.spawn(sys.executable, ["-m", module, *args], cwd=str(repo), env=environ,
                         dimensions=(rows, columns), encoding="utf-8", timeout=120)


def _orchestrate(repo: Path, *args: str, **kw) -> pexpect.spawn:
    return _spawn(repo, "agentos.cli.orchestrate", "--issue", "1", *args, **kw)


def _agentos(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """A command with its output piped (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "agentos.cli.main", *args], cwd=repo, capture_output=True, text=True)


def _finish(child: pexpect.spawn) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def test_before_pr_gate_at_80_columns_shows_what_is_approved_and_takes_the_word_approve(sample_repo):
    edit_config(sample_repo, gates={"before_pr": True})
    child = _orchestrate(sample_repo, "--plain")
    child.expect("Gate before pull request: open this pull request\\?")
    child.expect(PROMPT)
    block = child.before
    assert "title        slugify leaves repeated and trailing dashes (#1)" in block
    assert "branch       agentos/issue-1 → main" in block
    assert "files changed" in block and "textkit/slug.py" in block
    assert "2 passed, 0 failed, 0 errors" in block and "(at the base)" in block and "→ 7 passed, 0 failed, 0 errors in" in block
    assert "after the code review" in block  # the branch as approved: the kept adversarial tests ran too
    assert "2 new tests seen red, then green" in block and "cost so far  $0.0000" in block
    assert all(len(line) <= 80 for line in block.splitlines())
    child.sendline("")  # a bare Enter approves nothing
    child.expect("nothing is chosen for you")
    child.expect(PROMPT)
    child.sendline("approve")
    code, rest = _finish(child)
    assert code == 0, rest
    assert "gate     before_pr approve by agentos tests" in rest
    pr = (sample_repo / ".agentos" / "pulls" / "2.md").read_text()
    assert "gate before pull request: approved by agentos tests" in pr


def test_ctrl_d_pauses_and_empty_feedback_is_explained(sample_repo):
    edit_config(sample_repo, gates={"after_lld": True})
    child = _orchestrate(sample_repo, "--plain")
    child.expect("Gate after LLD: approve the LLD\\?")
    child.expect(PROMPT)
    assert "document     .agentos/worktrees/1/docs/agentos/issue-1/lld.md" in child.before
    assert "review       APPROVED after 2 review rounds" in child.before
    child.sendline("r")
    child.expect("What should change\\?")
    child.sendline("")
    child.expect("a rejection needs feedback: the stage revises its result with it")
    child.sendeof()  # Ctrl-D pauses, as quit does
    code, rest = _finish(child)
    assert code == 3 and "paused; nothing was decided" in rest
    assert "paused at gate after LLD for issue #1: approve the LLD" in rest
    status = _agentos(sample_repo, "status", "1")
    assert status.returncode == 0 and "PAUSED at gate after LLD" in status.stdout
    assert "agentos approve 1" in status.stdout and "Traceback" not in status.stderr


def test_ctrl_d_at_the_first_prompt_pauses(sample_repo):
    edit_config(sample_repo, gates={"after_triage": True})
    child = _orchestrate(sample_repo, "--plain")
    child.expect(PROMPT)
    child.sendeof()
    code, rest = _finish(child)
    assert code == 3 and "internal error" not in rest


def test_the_live_view_shows_the_step_inside_a_stage(sample_repo):
    # Hold the LLD's revision a moment, so the live view draws the step it is at.
    revise = script_replies(sample_repo, "drafter", "lld.revise")
    edit_script(sample_repo, "drafter", "lld.revise", [{**revise[0], "delay_s": 1.5}])
    child = _orchestrate(sample_repo)
    child.expect("lld · review round 1 · REVISE, 1 finding \\(1 blocking\\)")
    code, rest = _finish(child)
    assert code == 0


def test_the_live_table_leaves_no_frozen_copy_at_a_gate(sample_repo):
    # A tall terminal keeps everything printed on screen: what a person would scroll back through.
    edit_config(sample_repo, gates={"after_lld": True})
    screen = pyte.Screen(80, 300)
    stream = pyte.Stream(screen)
    child = _orchestrate(sample_repo, rows=300)
    child.expect(PROMPT)
    stream.feed(child.before + child.after)
    child.sendline("approve")
    code, rest = _finish(child)
    stream.feed(rest)
    shown = [line.rstrip() for line in screen.display if line.strip()]
    assert code == 0
    assert sum(line.lstrip().startswith("Stage ") for line in shown) == 1  # only the final table stays
    assert sum(line.lstrip().startswith("total ") for line in shown) == 1
    assert "Gate after LLD: approve the LLD?" in shown and all(len(line) <= 80 for line in shown)


def test_status_after_a_kill_says_interrupted_and_how_to_continue(sample_repo):
    draft = script_replies(sample_repo, "drafter", "triage.draft")
    edit_script(sample_repo, "drafter", "triage.draft", [{**draft[0], "delay_s": 300}])
    child = _orchestrate(sample_repo, "--plain")
    child.expect("triage   started")
    running = _agentos(sample_repo, "status", "1")
    assert "RUNNING triage" in running.stdout and f"pid {child.pid}" in running.stdout
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    status = _agentos(sample_repo, "status", "1")
    assert "INTERRUPTED in triage (no process is running it)" in status.stdout
    assert "orchestrate --issue 1  " in status.stdout and "RUNNING" not in status.stdout
    runs = _agentos(sample_repo, "runs")
    assert "#1     interrupted  triage" in runs.stdout.replace("\n", " ")


def test_runs_and_show_on_a_terminal_and_through_a_pipe(sample_repo):
    child = _orchestrate(sample_repo, "--plain")
    assert _finish(child)[0] == 0
    listing = _spawn(sample_repo, "agentos.cli.main", "runs")
    code, text = _finish(listing)
    assert code == 0 and "ISSUE" in text and "#1" in text and "done" in text and "#2" in text
    # On a terminal `show` goes through $PAGER; through a pipe it prints plainly.
    paged = _spawn(sample_repo, "agentos.cli.main", "show", "1", "spec", PAGER="sh -c 'cat; echo END-OF-PAGER'")
    code, text = _finish(paged)
    assert code == 0 and "# Implementation spec" in text and "END-OF-PAGER" in text
    piped = subprocess.run([sys.executable, "-m", "agentos.cli.main", "show", "1", "diff"], cwd=sample_repo,
                           capture_output=True, text=True, env={**os.environ, "PAGER": "sh -c 'echo PAGER'"})
    assert piped.returncode == 0 and piped.stdout.startswith("diff --git") and "PAGER" not in piped.stdout
    tests = _agentos(sample_repo, "show", "1", "tests")
    assert tests.returncode == 0 and "passed" in tests.stdout
    pr = _agentos(sample_repo, "show", "1")  # a finished run: its pull request
    assert "Closes #1" in pr.stdout


@pytest.mark.parametrize(("args", "code", "said"), [
    ((), 0, "Dry run: no model was called"),
    (("--base-branch", "nope"), 2, "base branch 'nope' does not exist"),
    (("--set", "stages.lld.drafter=nope:x"), 2, "unknown model provider 'nope'"),
])
def test_dry_run_exit_codes(sample_repo, args, code, said):
    child = _orchestrate(sample_repo, "--dry-run", *args)
    status, text = _finish(child)
    assert status == code and said in text and "Traceback" not in text
    assert "Plan for issue #1" in text  # whatever keeps it from running, the plan is shown whole
