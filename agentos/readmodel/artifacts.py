"""What a run produced, read where it lies: the design documents (in the issue's worktree, else on
its branch), the branch's diff against its base, the test report and the pull request body."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentos.errors import UsageError
from agentos.files import read_json
from agentos.markdown.parse import headings, lines_of
from agentos.paths import RepoLayout
from agentos.readmodel.model import DOC_LABELS, CodeReview, Document, TestSummary
from agentos.repo.git import Git
from agentos.repo.testreport import TestRun

DOC_FILES = {"triage": "brief.md", "lld": "lld.md", "spec": "spec.md"}
DEFAULT_DOCS_DIR = "docs/agentos"


@dataclass(frozen=True)
class Where:
    """Where an issue's work lives: its branch, base, worktree and document paths."""

    layout: RepoLayout
    issue: int
    branch: str
    base: str
    worktree: Path
    doc_paths: dict[str, str]
    run_dir: Path | None

    @classmethod
    def of(cls, layout: RepoLayout, issue: int, header: dict[str, Any], run_dir: Path | None) -> Where:
        """From the run's header (run_started data), else the worktree's ownership record and defaults."""
        owner = read_json(layout.worktrees_dir / f"{issue}.owner.json") or {}
        docs = header.get("documents") or {k: f"{DEFAULT_DOCS_DIR}/issue-{issue}/{f}" for k, f in DOC_FILES.items()}
        return cls(layout, issue, header.get("branch") or owner.get("branch") or f"agentos/issue-{issue}",
                   header.get("base") or owner.get("base") or "", Path(header.get("worktree") or layout.worktree(issue)),
                   dict(docs), run_dir)


def documents(where: Where, cwd: Path | None = None) -> list[Document]:
    """The issue's design documents, each with where the user can open it from `cwd`."""
    return [document(where, kind, cwd) for kind in where.doc_paths]


def document(where: Where, kind: str, cwd: Path | None = None) -> Document:
    rel = where.doc_paths[kind]
    text, location = _doc_text(where, rel, cwd)
    review, log = review_outcome(text or "")
    return Document(kind, DOC_LABELS.get(kind, kind), rel, location, text is not None, review, log)


def document_text(where: Where, kind: str) -> str:
    """A document's text; a UsageError saying so when it does not exist yet."""
    if kind not in where.doc_paths:
        raise UsageError(f"no document called {kind!r}", f"choose one of: {', '.join(where.doc_paths)}")
    text, _ = _doc_text(where, where.doc_paths[kind], None)
    if text is None:
        raise UsageError(f"issue #{where.issue} has no {DOC_LABELS.get(kind, kind)} yet ({where.doc_paths[kind]})",
                         f"see `agentos status {where.issue}` for where its run stands")
    return text


def _doc_text(where: Where, rel: str, cwd: Path | None) -> tuple[str | None, str]:
    local = where.worktree / rel
    if local.is_file():
        return local.read_text(encoding="utf-8", errors="replace"), shown_path(local, cwd)
    git = Git(where.layout.root)
    for ref in filter(None, (where.branch, where.base)):
        if (text := git.show_file(ref, rel)) is not None:
            return text, f"{ref}:{rel}"
    return None, f"{where.branch}:{rel}"


def shown_path(path: Path, cwd: Path | None = None) -> str:
    """A path as the user can type it from `cwd`: relative when it lies below, else absolute."""
    here = (cwd or Path.cwd()).resolve()
    try:
        return os.path.relpath(path, here) if path.resolve().is_relative_to(here) else str(path)
    except ValueError:
        return str(path)


def review_outcome(text: str) -> tuple[str, list[str]]:
    """(closing status line, log entries) of the review log that ends a document."""
    last = (headings(text, level=2) or [None])[-1]
    if last is None or last.title.lower() != "review log":
        return "", []
    body = [line.strip() for line in lines_of(text)[last.line + 1:] if line.strip()]
    status = next((line for line in reversed(body) if line.startswith("Status:")), "")
    return status, [line.removeprefix("- ") for line in body if line.startswith("- ")]


def branch_diff(where: Where, stat: bool = False, width: int = 80) -> str:
    """The work branch's changes since it left its base (what its pull request shows)."""
    git = Git(where.layout.root)
    if not git.rev_parse(where.branch):
        raise UsageError(f"issue #{where.issue} has no work branch {where.branch} yet",
                         f"see `agentos status {where.issue}`")
    base = where.base if where.base and git.rev_parse(where.base) else ""
    if not base:
        raise UsageError(f"the base branch {where.base or '(unknown)'} of issue #{where.issue} does not exist here",
                         "fetch it, or see `agentos status` for the run's base")
    return git.diff(f"{base}...{where.branch}", stat=stat, width=width)


def test_summary(where: Where) -> TestSummary | None:
    """The implementation's test evidence, or None before the stage wrote it; the final run is the
    code review's last one when the review has ended (its adversarial tests and fix rounds included)."""
    report = read_json(where.run_dir / "impl" / "test-report.json") if where.run_dir else None
    if not report:
        return None
    final, base = report.get("final") or {}, report.get("baseline") or {}
    failing = [*final.get("failed_tests", []), *[t for t in report.get("regressions", []) if t not in final.get("failed_tests", [])]]
    summary = str(final.get("summary", ""))
    if reviewed := _reviewed_run(where.run_dir):
        summary, failing = f"{reviewed.summary()} after the code review", list(reviewed.failed_tests)
    return TestSummary(str(final.get("command", "")), str(base.get("summary", "")), summary,
                       list(report.get("red_tests") or []), failing, report.get("outcome") == "PASS")


def _reviewed_run(run_dir: Path) -> TestRun | None:
    """The code review's last test run, as its report keeps it (without the output), or None."""
    record = (read_json(run_dir / "review" / "report.json") or {}).get("test_run")
    if not isinstance(record, dict) or not record:
        return None
    try:
        return TestRun(**{"output": "", **{k: v for k, v in record.items() if k in TestRun.__dataclass_fields__}})
    except (TypeError, ValueError):  # a report from another version: the implementation's figures stand
        return None


def test_report(where: Where) -> str:
    """The implementation's test report (Markdown)."""
    path = where.run_dir / "impl" / "test-report.md" if where.run_dir else None
    if path is None or not path.is_file():
        raise UsageError(f"issue #{where.issue} has no test report yet (the implementation stage writes it)",
                         f"see `agentos status {where.issue}`")
    return path.read_text(encoding="utf-8", errors="replace")


def pr_body(where: Where) -> str:
    """The pull request body as the run wrote it."""
    path = where.run_dir / "pr" / "body.md" if where.run_dir else None
    if path is None or not path.is_file():
        raise UsageError(f"issue #{where.issue} has no pull request yet", f"see `agentos status {where.issue}`")
    return path.read_text(encoding="utf-8", errors="replace")


def code_review(run_dir: Path | None) -> CodeReview | None:
    """How the run's code review ended, when it has ended (None before)."""
    path = run_dir / "review" / "report.json" if run_dir else None
    record = read_json(path) if path else None
    if record is None:
        return None
    return CodeReview(str(record.get("verdict") or ""), str(record.get("exit_reason") or ""),
                      int(record.get("rounds") or 0), str(record.get("reviewer") or ""), str(record.get("message") or ""),
                      [str(t.get("path")) for t in record.get("kept_tests") or [] if isinstance(t, dict)],
                      [code_finding(f) for f in record.get("unresolved") or [] if isinstance(f, dict)],
                      str(path.with_name("report.md")))


def code_finding(f: dict[str, Any]) -> str:
    """A code review finding in a line: "F1 (major, calc.py:3-5): text"."""
    where = str(f.get("file") or "") + (f":{f['lines']}" if f.get("lines") else "")
    return f"{f.get('id', '')} ({', '.join(x for x in (str(f.get('severity') or ''), where) if x)}): {f.get('text', '')}"


def latest_review(run_dir: Path | None, stage: str) -> dict[str, Any]:
    """The last review verdict a stage's loop recorded ({} when none)."""
    folder = run_dir / stage if run_dir else None
    if folder is None or not folder.is_dir():
        return {}
    rounds = sorted(folder.glob("review-*/verdict.json"), key=_round)
    return (read_json(rounds[-1]) or {}) if rounds else {}


def _round(verdict: Path) -> int:
    number = verdict.parent.name.rpartition("-")[2]
    return int(number) if number.isdigit() else 0


