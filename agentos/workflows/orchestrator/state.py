"""Orchestration state: the request's fields plus what a resumable, explainable run needs.

Maps keyed by stage merge by key (a node returns only its own stage's entry); None removes a key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from agentos.workflows.reducers import append, append_per_key, merge

Stage = Literal["triage", "lld", "spec", "impl", "review", "pr", "done"]
STAGES: tuple[str, ...] = ("triage", "lld", "spec", "impl", "review", "pr")
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
    stage_attempts: Annotated[dict[str, int], merge]
    stage_errors: Annotated[dict[str, list[str]], append_per_key]

    # Timing
    started_at: str
    stage_started_at: str
    completed_at: str | None

    # Beyond the request: what resume, gates and status need
    run_id: str
    status: Literal["running", "blocked", "done"]
    plan: dict[str, dict[str, Any]]
    """Stage → {action: run|skip, reason, artifact}; fixed when the run starts."""
    stage_results: Annotated[dict[str, dict[str, Any]], merge]
    """Stage → {verdict, exit_reason, message, rounds, revisions, history} of its last run."""
    retries: Annotated[dict[str, int], merge]
    """Consecutive RETRY outcomes per stage, reset on PASS."""
    feedback: Annotated[dict[str, list[str]], append_per_key]
    """Human feedback from a rejected gate, waiting for that stage's next revision."""
    gate_results: Annotated[dict[str, str], merge]
    decisions: Annotated[list[dict[str, Any]], append]
    """People's gate decisions in order: gate, stage, action, by, feedback, at, overrides."""
    last_verdict: str
    blocker: str | None
    test_run: dict[str, Any] | None
    base_run: str | None
    """The preflight's base run, in one line (the implementation stage reuses the run itself)."""
    preflight_notes: list[str]
    """What the preflight did to the worktree (interrupted work kept, the test environment set
    up), for the implementation stage's report."""
