"""`agentos status N`: where the issue's latest run stands, from its records and checkpoint."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from agentos import runs
from agentos.errors import UsageError
from agentos.files import read_jsonl
from agentos.paths import RepoLayout, find_repo_root
from agentos.workflows.orchestrator.session import state_db_errors
from agentos.workflows.orchestrator.state import STAGES


def run_status(repo: Path | None, issue: int) -> dict[str, Any]:
    layout = RepoLayout(find_repo_root(repo))
    record = runs.latest(layout, issue, kind=None)
    if record is None:
        raise UsageError(f"issue #{issue} has no runs in {layout.root}", f"start one: orchestrate --issue {issue}")
    state = checkpoint_values(layout, record.thread_id)
    usage = call_usage(layout.run_dir(record.run_id) / "calls.jsonl")
    _add_spend(usage, layout.run_dir(record.run_id) / "spend.jsonl")
    stages = {s: _stage(state, s, usage) for s in STAGES if s in (state.get("stage_results") or {}) or s in usage}
    return {
        "issue": issue, "run_id": record.run_id, "kind": record.kind, "status": record.status,
        "message": record.message, "gate": record.gate,
        "current_stage": state.get("current_stage"), "blocker": state.get("blocker"),
        "artifacts": {k: state.get(k) for k in ("issue_brief_path", "lld_path", "spec_path") if state.get(k)}
        | ({"doc_path": state["doc_path"]} if state.get("doc_path") else {}),
        "pr_url": state.get("pr_url"), "stages": stages,
        "started_at": state.get("started_at") or record.created_at, "completed_at": state.get("completed_at"),
        "elapsed_s": _elapsed(state.get("started_at") or record.created_at, state.get("completed_at")),
        "model_calls": sum(u["calls"] for u in usage.values()),
        "cost_usd": round(sum(u["cost_usd"] for u in usage.values()), 6),
        "run_dir": str(layout.run_dir(record.run_id)),
    }


def checkpoint_values(layout: RepoLayout, thread_id: str) -> dict[str, Any]:
    if not layout.state_db.exists():
        return {}
    from langgraph.checkpoint.sqlite import SqliteSaver

    with state_db_errors(layout):
        conn = sqlite3.connect(str(layout.state_db), check_same_thread=False)
        try:
            found = SqliteSaver(conn).get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        finally:
            conn.close()
    return dict(found.checkpoint.get("channel_values", {})) if found else {}


def call_usage(path: Path) -> dict[str, dict[str, Any]]:
    """Stage → calls, tokens and cost, from the run's journal of paid calls."""
    out: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(path):
        stage = record.get("purpose", "?").split(".")[0]
        usage = record["response"].get("usage", {})
        agg = out.setdefault(stage, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
        agg["calls"] += 1
        agg["input_tokens"] += usage.get("input_tokens", 0)
        agg["output_tokens"] += usage.get("output_tokens", 0)
        agg["cost_usd"] += record["response"].get("cost_usd", 0.0)
    return out


def _add_spend(usage: dict[str, dict[str, Any]], ledger: Path) -> None:
    """Cost from the spend ledger when there is one: it also counts calls that failed."""
    if not ledger.exists():
        return
    from agentos.llm.budget import Budget

    spent = Budget(ledger).by_stage
    failed = {}
    for record in read_jsonl(ledger):
        if not record.get("ok", True):
            failed[record.get("stage", "")] = failed.get(record.get("stage", ""), 0) + 1
    for stage, cost in spent.items():
        agg = usage.setdefault(stage, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
        agg["cost_usd"], agg["failed_calls"] = cost, failed.get(stage, 0)


def _stage(state: dict, stage: str, usage: dict) -> dict[str, Any]:
    result = (state.get("stage_results") or {}).get(stage, {})
    plan = (state.get("plan") or {}).get(stage, {})
    return {"verdict": result.get("verdict") or ("SKIPPED" if plan.get("action") == "skip" else None),
            "exit_reason": result.get("exit_reason"), "message": result.get("message") or plan.get("reason"),
            "attempts": (state.get("stage_attempts") or {}).get(stage, 0), **usage.get(stage, {})}


def _elapsed(start: str | None, end: str | None) -> float | None:
    try:
        a = datetime.fromisoformat(start) if start else None
        b = datetime.fromisoformat(end) if end else None
    except ValueError:
        return None
    return round((b - a).total_seconds(), 1) if a and b else None


def render_status(info: dict[str, Any]) -> str:
    lines = [f"issue #{info['issue']}  run {info['run_id']}  status: {info['status'].upper()}"]
    if info.get("message"):
        lines.append(f"  {info['message']}")
    if info.get("gate"):
        lines.append(f"  waiting at gate {info['gate'].get('gate')} (agentos approve|reject {info['issue']})")
    for stage, s in info["stages"].items():
        tokens = f"{s.get('input_tokens', 0)}→{s.get('output_tokens', 0)} tok" if s.get("calls") else ""
        lines.append(f"  {stage:<7} {str(s.get('verdict') or 'running'):<8} {s.get('exit_reason') or '':<14} "
                     f"{s.get('calls', 0)} calls {tokens} ${s.get('cost_usd', 0.0):.4f}  {s.get('message') or ''}")
    for name, path in info["artifacts"].items():
        lines.append(f"  {name:<17} {path}")
    if info.get("pr_url"):
        lines.append(f"  PR               {info['pr_url']}")
    lines.append(f"  {info['model_calls']} model calls, ${info['cost_usd']:.4f}, elapsed {info['elapsed_s']}s; run folder {info['run_dir']}")
    return "\n".join(lines)
