"""Orchestration state: the request's fields plus what a resumable, explainable run needs."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Stage = Literal["triage", "lld", "spec", "impl", "pr", "done"]
STAGES: tuple[str, ...] = ("triage", "lld", "spec", "impl", "pr")
Verdict = Literal["PASS", "BLOCK", "RETRY"]


class OrchestrationState(TypedDict, total=False):
    issue_number: int
    current_stage: Stage

    # Artifacts produced
    issue_brief_path: str | None
    lld_path: str | None
    spec_path: str | None
    pr_url: str | None

    # Progress tracking
    stage_attempts: dict[str, int]
    stage_errors: dict[str, list[str]]

    # Timing
    started_at: str
    stage_started_at: str
    completed_at: str | None

    # Beyond the request: what resume, gates and status need
    run_id: str
    status: Literal["running", "blocked", "done"]
    plan: dict[str, dict[str, Any]]
    """Stage → {action: run|skip, reason, artifact}; fixed when the run starts."""
    stage_results: dict[str, dict[str, Any]]
    """Stage → {verdict, exit_reason, message, rounds, revisions, history} of its last run."""
    retries: dict[str, int]
    """Consecutive RETRY outcomes per stage, reset on PASS."""
    feedback: dict[str, list[str]]
    """Human feedback from a rejected gate, waiting for that stage's next revision."""
    gate_results: dict[str, str]
    last_verdict: str
    blocker: str | None
    test_run: dict[str, Any] | None
