"""What the views show about runs, as plain data: the CLI's `status`, `runs` and `show`, and the
web dashboard read the same objects, and `--json` prints them whole (`as_json`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from agentos.progress.view import plural

STAGE_LABELS = {"triage": "triage", "lld": "LLD", "spec": "spec", "impl": "implementation",
                "review": "code review", "pr": "pull request"}
DOC_LABELS = {"triage": "issue brief", "lld": "LLD", "spec": "spec"}


def stage_label(stage: str | None) -> str:
    """A stage's name as people say it: "LLD", "implementation"."""
    return STAGE_LABELS.get(stage or "", stage or "")


def gate_label(gate: str | None) -> str:
    """A gate's name as people say it: after_lld → "after LLD", before_pr → "before pull request"."""
    when, _, stage = (gate or "").partition("_")
    return f"{when} {stage_label(stage)}" if stage else (gate or "")


@dataclass
class Liveness:
    """The process that last ran the run, and whether it still runs (None: on another host)."""

    pid: int | None
    host: str
    since: str | None
    alive: bool | None


@dataclass
class RunSummary:
    """One run in a list: where it stands, in a line."""

    issue: int
    title: str
    run_id: str
    kind: str
    """"orchestrate", or the workflow run on its own (triage, lld, spec, impl)."""
    status: str
    """running (a live process runs it) | interrupted (its process died; the same command
    continues) | paused (waiting at a gate) | blocked | done | failed | budget."""
    stage: str | None
    """The stage it is at (running, waiting after, or stopped in); "done" when finished."""
    gate: str | None
    """The gate it waits at now (e.g. after_lld), when paused."""
    pr_url: str | None
    cost_usd: float
    created_at: str
    updated_at: str
    """When anything last happened in the run (its latest event, else its record)."""
    age_s: float
    """Seconds since `updated_at`."""
    elapsed_s: float | None
    """Wall time from the run's start to its end or its pause (to now while a process runs it)."""
    message: str
    process: Liveness | None


@dataclass
class StageRow:
    """One stage of a run, whether it ran, was skipped or is still to come."""

    name: str
    label: str
    status: str
    """pending | running | PASS | BLOCK | RETRY | skipped | interrupted"""
    attempts: int = 0
    elapsed_s: float | None = None
    exit_reason: str = ""
    message: str = ""
    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Document:
    """A design document of the issue, found where the user can open it."""

    kind: str
    """triage | lld | spec"""
    label: str
    path: str
    """Relative to the repository (as committed on the work branch)."""
    location: str
    """Where to open it from the current directory (a file path), or `branch:path` when it
    exists only on a branch."""
    exists: bool
    review: str = ""
    """The closing line of its review log, e.g. "Status: APPROVED after 2 review round(s)"."""
    review_log: list[str] = field(default_factory=list)


@dataclass
class Decision:
    """A person's decision at a gate, as the run recorded it."""

    gate: str
    action: str
    """approve | reject"""
    by: str
    feedback: str
    at: str
    overrides: str = ""
    """For an approval after a rejection at the same gate: what it overrides."""


@dataclass
class TestSummary:
    """The implementation's test evidence (runs/<id>/impl/test-report.json)."""

    command: str
    base: str
    """The suite at the base commit, e.g. "2 passed, 0 failed, 0 errors in 0.1s"."""
    final: str
    red_tests: list[str]
    """Tests written first and seen failing on the unchanged code."""
    failing_tests: list[str]
    passed: bool


@dataclass
class CodeReview:
    """The code review stage's end (runs/<id>/review/report.json)."""

    verdict: str
    """The reviewer's last verdict: APPROVED | REVISE | BLOCKED (UNREVIEWED before any round)."""
    exit_reason: str
    """approved | blocked | max_rounds | stagnation | ..."""
    rounds: int
    reviewer: str
    message: str
    kept_tests: list[str]
    """Adversarial tests the reviewer wrote that pass, committed on the branch."""
    unresolved: list[str]
    """Findings left open, "id (severity, file:lines): text"."""
    report: str
    """The Markdown record of the rounds."""

    def headline(self) -> str:
        """"APPROVED after 2 rounds by m (approved)"."""
        by = f" by {self.reviewer}" if self.reviewer else ""
        return f"{self.verdict} after {plural(self.rounds, 'round')}{by} ({self.exit_reason})"


@dataclass
class Step:
    """A thing the user can do next, and the command that does it."""

    what: str
    command: str


@dataclass
class Blocker:
    """Why a run stopped short, in the terms needed to act on it."""

    stage: str
    reason: str
    findings: list[str] = field(default_factory=list)
    """The last review's open findings (blocking first)."""
    failing_tests: list[str] = field(default_factory=list)


@dataclass
class GateInfo:
    """The gate a paused run waits at, and what it asks to approve."""

    gate: str
    label: str
    stage: str
    document: Document | None
    waiting_s: float | None


@dataclass
class RunDetail:
    """Everything `agentos status N` and the dashboard's run page show."""

    summary: RunSummary
    stages: list[StageRow]
    gate: GateInfo | None
    blocker: Blocker | None
    next_steps: list[Step]
    decisions: list[Decision]
    documents: list[Document]
    tests: TestSummary | None
    calls: int
    input_tokens: int
    output_tokens: int
    branch: str
    base: str
    worktree: str
    run_dir: str
    code_review: CodeReview | None = None
    notes: list[str] = field(default_factory=list)
    """The run's last few notable messages (warnings, errors, resumes)."""


def as_json(obj: Any) -> Any:
    """Dataclasses (and lists of them) as JSON-ready dicts, every field kept."""
    if isinstance(obj, list):
        return [as_json(o) for o in obj]
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj
