"""The evidence a run leaves beyond its status: each document's review rounds, the calls and
tokens by stage and model, and each test's outcome in the base, red and green runs.

Read from the files the run writes (lineage, call journal, test runs), never from
the graph engine, so reading is cheap and safe while the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentos import runs
from agentos.files import read_json, read_jsonl
from agentos.paths import RepoLayout


@dataclass
class ReviewRound:
    """One review of a draft, and the revision that answered it."""

    number: int
    verdict: str
    summary: str
    findings: list[dict[str, Any]]
    revision_diff: str = ""
    """The unified diff from the reviewed draft to the revised one ("" when no revision followed)."""
    addressed: list[str] = field(default_factory=list)
    """Finding ids the revision says it addressed."""
    reviewer: str = ""
    cost_usd: float = 0.0


def review_rounds(layout: RepoLayout, issue: int, stage: str) -> list[ReviewRound]:
    """The review rounds of the issue's latest run that reviewed this stage's document."""
    folder = _latest_stage_folder(layout, issue, stage)
    if folder is None:
        return []
    rounds = []
    for review in sorted(folder.glob("review-*"), key=_number):
        n = _number(review)
        verdict = _object(review / "verdict.json")
        usage = _object(review / "usage.json")
        revise = folder / f"revise-{n}"
        answer = _object(revise / "response.md")  # the revision's JSON answer: which findings it addressed
        rounds.append(ReviewRound(n, str(verdict.get("verdict", "?")), str(verdict.get("summary", "")),
                                  [f for f in verdict.get("findings") or [] if isinstance(f, dict)],
                                  _text(revise / "diff.patch"), [str(a) for a in answer.get("addressed") or []],
                                  str(usage.get("model", "")), float(usage.get("cost_usd") or 0.0)))
    return rounds


def _latest_stage_folder(layout: RepoLayout, issue: int, stage: str) -> Path | None:
    for record in reversed(runs.runs_of(layout, issue, kind=None)):
        folder = layout.run_dir(record.run_id) / stage
        if any(folder.glob("review-*")):
            return folder
    return None


@dataclass
class ModelSpend:
    """Paid calls of one model in one stage, with their tokens (from the call journal)."""

    stage: str
    model: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


def model_calls(run_dir: Path) -> list[ModelSpend]:
    """The run's paid calls per stage and model, with cache reads and writes, from its call journal.
    (Spend per stage, failed calls included, is the stage rows' `cost_usd`, from the ledger.)"""
    rows: dict[tuple[str, str], ModelSpend] = {}
    for call in read_jsonl(run_dir / "calls.jsonl"):
        response = call.get("response") or {}
        usage = response.get("usage") or {}
        stage, model = str(call.get("purpose", "?")).split(".")[0], str(response.get("model", "?"))
        row = rows.setdefault((stage, model), ModelSpend(stage, model))
        row.calls += 1
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            setattr(row, name, getattr(row, name) + int(usage.get(name) or 0))
        row.cost_usd += float(response.get("cost_usd") or 0.0)
    return sorted(rows.values(), key=lambda r: (r.stage, r.model))


@dataclass
class TestRun:
    """One run of the target's suite during the implementation stage."""

    name: str
    """base-commit, tests-first-0, implementation, ... (as the stage named its file)."""
    summary: str
    outcomes: dict[str, str]
    """Test name → passed | failed."""


@dataclass
class TestMatrix:
    runs: list[TestRun]
    tests: list[str]


def test_matrix(run_dir: Path) -> TestMatrix | None:
    """Each test's outcome in every suite run of the implementation stage (base, red, green), or None before it ran."""
    folder = run_dir / "impl"
    files = sorted(folder.glob("tests-*.json"), key=lambda p: (p.stem != "tests-base-commit", p.stat().st_mtime_ns))
    if not files:
        return None
    found = []
    for path in files:
        data = _object(path)
        outcomes = {t: "passed" for t in data.get("passed_tests") or []} | {t: "failed" for t in data.get("failed_tests") or []}
        summary = f"{data.get('passed', 0)} passed, {data.get('failed', 0)} failed, {data.get('errors', 0)} errors"
        found.append(TestRun(path.stem.removeprefix("tests-"), summary, outcomes))
    return TestMatrix(found, sorted({t for run in found for t in run.outcomes}))


def _number(path: Path) -> int:
    tail = path.name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0




def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _object(path: Path) -> dict[str, Any]:
    return read_json(path) or {}
