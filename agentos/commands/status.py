"""`agentos status N` and `agentos runs`: where runs stand, from the read model (no graph engine)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agentos.commands.text import STATUS_WORDS, ago, columns, duration, pr_ref, tokens
from agentos.paths import RepoLayout, find_repo_root
from agentos.progress.view import plural
from agentos.readmodel import (
    RunDetail, RunSummary, gate_label, list_runs, render_blocker, render_steps, run_detail, stage_label,
)
from agentos.readmodel.model import CodeReview, Step


def run_status(repo: Path | None, issue: int) -> RunDetail:
    layout = RepoLayout(find_repo_root(repo))
    detail = run_detail(layout, issue)
    check_checkpoints(layout, detail.summary.run_id)
    return detail


def check_checkpoints(layout: RepoLayout, thread_id: str) -> None:
    """Read the run's latest checkpoint row with sqlite3 (no graph engine): a damaged database is
    named, with what to do (`agentos repair`), as a run would name it."""
    if not layout.state_db.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{layout.state_db}?mode=ro", uri=True)
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").fetchone():
                conn.execute("SELECT checkpoint FROM checkpoints WHERE thread_id = ? "
                             "ORDER BY checkpoint_id DESC LIMIT 1", (thread_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        from agentos.workflows.orchestrator.session import state_db_errors  # only now: it loads the config

        with state_db_errors(layout):
            raise


def runs_overview(repo: Path | None) -> list[RunSummary]:
    return list_runs(RepoLayout(find_repo_root(repo)))


def headline(s: RunSummary) -> str:
    """The run's state in words: "RUNNING lld", "PAUSED at gate after LLD", "INTERRUPTED in spec"."""
    where = stage_label(s.stage)
    return {"running": f"RUNNING {where}".strip(),
            "paused": f"PAUSED at gate {gate_label(s.gate)}",
            "interrupted": f"INTERRUPTED in {where} (no process is running it)" if where else "INTERRUPTED",
            "blocked": f"BLOCKED in {where}" if where else "BLOCKED",
            "failed": f"STOPPED by an error in {where}" if where else "STOPPED by an error",
            "budget": "STOPPED: budget reached",
            "done": "DONE"}.get(s.status, s.status.upper())


def render_status(d: RunDetail) -> str:
    s = d.summary
    lines = [f"#{s.issue} {s.title}".rstrip(), f"  {headline(s)}"]
    facts = [f"elapsed {duration(s.elapsed_s)}", f"last activity {ago(s.age_s)}", plural(d.calls, "model call"),
             f"{tokens(d.input_tokens, d.output_tokens)} tokens", f"${s.cost_usd:.4f}"]
    if s.status == "running" and s.process:
        facts.insert(0, f"pid {s.process.pid} on {s.process.host}")
    lines += ["  " + " · ".join(facts), ""]
    lines += _stage_table(d)
    lines += _gate(d) + _blocker(d) + _documents(d)
    if s.pr_url:
        lines += ["", f"Pull request {pr_ref(s.pr_url)}: {s.pr_url}"]
    if d.tests:
        lines += ["", f"Tests: {d.tests.base or '?'} at the base → {d.tests.final or '?'}"
                  + (f"; {plural(len(d.tests.red_tests), 'test')} seen red first" if d.tests.red_tests else "")]
    lines += _code_review(d.code_review)
    lines += _steps(d.next_steps)
    lines += ["", f"run {s.run_id} · branch {d.branch} · folder {d.run_dir}"]
    return "\n".join(lines)


def _stage_table(d: RunDetail) -> list[str]:
    rows = [["STAGE", "STATUS", "TIME", "CALLS", "TOKENS", "COST", "DETAILS"]]
    for r in d.stages:
        calls = str(r.calls) + (f"+{r.cached_calls} cached" if r.cached_calls else "") \
            + (f" ({r.failed_calls} failed)" if r.failed_calls else "")
        ran = r.status not in ("pending", "skipped")
        status = STATUS_WORDS.get(r.status, r.status) + (f" ×{r.attempts}" if r.attempts > 1 else "")
        rows.append([r.label, status, duration(r.elapsed_s) if ran else "-", calls if ran else "-",
                     tokens(r.input_tokens, r.output_tokens), f"${r.cost_usd:.4f}" if ran else "-", r.message])
    return columns(rows, indent="  ", optional=(3, 5, 4))  # calls, then cost, then tokens


def _gate(d: RunDetail) -> list[str]:
    if not d.gate:
        return []
    doc = d.gate.document
    what = f"the {stage_label(d.gate.stage)} result"
    if doc:
        what = f"the {doc.label}: {doc.location}" + (f" ({doc.review.removeprefix('Status: ')})" if doc.review else "")
    waiting = f", waiting {duration(d.gate.waiting_s)}" if d.gate.waiting_s is not None else ""
    return ["", f"Waiting at gate {d.gate.label}{waiting}: approve {what}"]


def _code_review(c: CodeReview | None) -> list[str]:
    """The code review's end: verdict, why the loop ended, the reviewer's tests kept on the branch."""
    if c is None:
        return []
    kept = f"; kept adversarial tests: {', '.join(c.kept_tests)}" if c.kept_tests else ""
    return ["", f"Code review: {c.headline()}{kept}"]


def _blocker(d: RunDetail) -> list[str]:
    return ["", *render_blocker(d.blocker)] if d.blocker else []


def _documents(d: RunDetail) -> list[str]:
    found = [doc for doc in d.documents if doc.exists]
    if not found:
        return []
    return ["", "Documents:"] + columns([[doc.label, doc.location, doc.review.removeprefix("Status: ")]
                                        for doc in found], indent="  ")


def _steps(steps: list[Step]) -> list[str]:
    return ["", "Next:", *render_steps(steps)] if steps else []


def render_runs(summaries: list[RunSummary]) -> str:
    """One line per issue, newest activity first, like `gh pr list`."""
    if not summaries:
        return "no runs yet; start one with: orchestrate --issue N"
    rows = [["ISSUE", "STATUS", "STAGE", "GATE", "PR", "COST", "UPDATED", "TITLE"]]
    for s in summaries:
        rows.append([f"#{s.issue}", s.status, stage_label(s.stage) or "-", gate_label(s.gate) or "-",
                     pr_ref(s.pr_url) or "-", f"${s.cost_usd:.4f}", ago(s.age_s), s.title])
    return "\n".join(columns(rows, optional=(5, 4, 3, 2, 6)))  # cost, PR, gate, stage, age
