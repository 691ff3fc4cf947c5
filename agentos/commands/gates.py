"""`agentos approve|reject|poll`: decide the gate a run is paused at, and continue decided runs.

A decision is written next to the paused run (its decision file) and taken by the driver when
the run continues; `/agentos approve|reject` comments on the issue are the other way to decide.
"""

from __future__ import annotations

from pathlib import Path

from agentos import runs
from agentos.errors import AgentosError, ExitCode, UsageError
from agentos.paths import RepoLayout, find_repo_root
from agentos.workflows.orchestrator.driver import RunResult, comment_gate
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions, open_session
from agentos.workflows.orchestrator.settings import continued_options


def record_decision(opts: RunOptions, action: str, feedback: str | None) -> str:
    """`agentos approve|reject`: note the decision for the run paused at a gate."""
    layout = RepoLayout(find_repo_root(opts.repo))
    record = runs.latest(layout, opts.issue)
    if record is None or record.status != "paused" or not record.gate:
        state = record.status if record else "never run"
        raise UsageError(f"issue #{opts.issue} has no run paused at a gate (latest run: {state})",
                         f"see `agentos status {opts.issue}`")
    if action == "reject" and not (feedback or "").strip():
        raise UsageError("reject needs feedback for the next revision", 'add --feedback "what to change"')
    decision = {"gate": record.gate.get("gate"), "action": action, "feedback": feedback,
                "by": runs.local_user(layout.root)}
    runs.save_decision(layout, record, decision)
    return f"{action} recorded for gate {record.gate.get('gate')} of issue #{opts.issue}; continue with: orchestrate --issue {opts.issue}"


def poll(repo: Path | None, plain: bool = False, stream=None) -> RunResult:
    """`agentos poll`: continue each paused run whose gate was decided (CLI or issue comment).

    Exits with the worst code among the runs, where paused (still waiting) counts as fine.
    """
    layout = RepoLayout(find_repo_root(repo))
    lines, codes = [], []
    for record in _paused_runs(layout):
        opts = RunOptions(issue=record.issue, repo=layout.root, plain=plain)
        notes: list[str] = []
        try:
            session = open_session(continued_options(opts)[0])  # the forge the run started with
            decided = runs.take_decision(layout, record) or comment_gate(session, notes.append)(record)
            runs.save(layout, record)
            result = orchestrate(opts, stream=stream) if decided else None
        except AgentosError as exc:
            lines.append(f"#{record.issue}: {str(exc).splitlines()[0]}")
            codes.append(exc.exit_code)
            continue
        lines += [f"#{record.issue}: {note}" for note in notes]
        gate = (record.gate or {}).get("gate")
        lines.append(f"#{record.issue}: " + (result.message.splitlines()[0] if result else f"still waiting at gate {gate}"))
        codes.append(result.exit_code if result else ExitCode.PAUSED)
    code = max((c for c in codes if c not in (ExitCode.DONE, ExitCode.PAUSED)), default=ExitCode.DONE)
    return RunResult(code, "poll", "\n".join(lines) or "no run is paused at a gate")


def _paused_runs(layout: RepoLayout) -> list[runs.RunRecord]:
    """The latest orchestrate run of each issue, where that run is paused at a gate."""
    found = [runs.load(p) for p in layout.runs_dir.glob("*/run.json")] if layout.runs_dir.exists() else []
    latest: dict[int, runs.RunRecord] = {}
    for record in sorted((r for r in found if r and r.kind == "orchestrate"), key=lambda r: r.created_at):
        latest[record.issue] = record
    return [r for _, r in sorted(latest.items()) if r.status == "paused" and r.gate]
