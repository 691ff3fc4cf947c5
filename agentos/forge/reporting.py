"""Progress on the issue: one comment, edited in place as stages finish, and agentos:* labels.

`IssueReporter` is a progress sink. It folds the orchestrator's events into a small view and
rewrites the one comment carrying `MARKER` (never a new comment per event), and keeps exactly
one status label on the issue. A forge failure here never stops the run: it is logged, and
the next event writes the whole comment again, so nothing is lost.

Nothing local reaches the comment: repository paths are shown relative to the repository,
and every text from a stage (which may quote the issue or a model) goes through `inline`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from agentos.errors import AgentosError
from agentos.forge.base import Forge
from agentos.markdown.escape import code, inline
from agentos.progress.events import Event
from agentos.readmodel.advice import next_steps
from agentos.readmodel.model import Blocker
from agentos.redact import redact

MARKER = "<!-- agentos:progress -->"
LABELS = {
    "running": "agentos:in-progress",
    "blocked": "agentos:blocked",
    "paused": "agentos:awaiting-approval",
    "done": "agentos:pr-open",
}
HEADLINE = {
    "running": "🔄 in progress",
    "paused": "⏸️ waiting for approval",
    "blocked": "⛔ blocked",
    "done": "✅ done",
    "failed": "⚠️ stopped by an error",
    "budget": "⚠️ stopped: budget exhausted",
    "interrupted": "⏹️ interrupted",
}
STAGE_MARK = {"PASS": "✅ passed", "BLOCK": "⛔ blocked", "RETRY": "🔁 retrying", "running": "⏳ running",
              "skipped": "⏭️ skipped", "pending": "· pending"}
_FLUSH_ON = {"run_started", "run_resumed", "stage_started", "stage_finished", "stage_skipped", "gate_paused",
             "gate_decided", "run_finished"}

log = logging.getLogger("agentos.forge.reporting")


@dataclass
class RunView:
    """What the comment shows, folded from events."""

    run_id: str = ""
    status: str = "running"
    stages: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Stage → (state, detail)."""
    gate: dict = field(default_factory=dict)
    message: str = ""
    pr_url: str | None = None
    cost_usd: float = 0.0


class IssueReporter:
    """A progress sink that keeps one comment on the issue, and its agentos:* label, current."""

    def __init__(self, forge: Forge, issue: int, labels: list[str], repo_root: Path, branch: str):
        self.forge, self.issue, self.root, self.branch = forge, issue, Path(repo_root), branch
        self.labels = set(labels)
        self.view = RunView()
        self._posted: str | None = None

    def handle(self, event: Event) -> None:
        self._fold(event)
        if event.kind in _FLUSH_ON:
            self.flush()

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Write the comment if it changed, then the labels; a failure is logged, not raised."""
        body = redact(render(self.view, self.issue, self.branch))
        try:
            if body != self._posted:
                self.forge.upsert_comment(self.issue, MARKER, body)
                self._posted = body
            self._sync_labels()
        except (AgentosError, OSError) as exc:
            log.warning("could not update the progress comment on #%s: %s", self.issue, exc)

    def _sync_labels(self) -> None:
        wanted = wanted_label(self.view)
        stale = [label for label in LABELS.values() if label in self.labels and label != wanted]
        if wanted and wanted not in self.labels:
            self.forge.add_labels(self.issue, [wanted])
            self.labels.add(wanted)
        if stale:
            self.forge.remove_labels(self.issue, stale)
            self.labels -= set(stale)

    # ----------------------------------------------------------------- events

    def _fold(self, event: Event) -> None:
        view, kind = self.view, event.kind
        if kind in ("run_started", "run_resumed"):
            self._start(event)
        elif kind == "stage_started":
            view.stages[event.stage or "?"] = ("running", f"attempt {event.attempt}" if (event.attempt or 1) > 1 else "")
        elif kind == "stage_finished":
            view.stages[event.stage or "?"] = (event.verdict or "?", self._local(event.message))
        elif kind == "stage_skipped":
            view.stages[event.stage or "?"] = ("skipped", self._local(event.message))
        elif kind == "model_call":
            view.cost_usd += event.cost_usd
        elif kind == "artifact_written" and event.stage == "pr":
            view.pr_url = str(event.data.get("path") or "") or None
        elif kind == "gate_paused":
            view.status, view.gate = "paused", dict(event.data) or {"gate": event.stage}
        elif kind == "gate_decided":
            view.status, view.gate = "running", {}
        elif kind == "run_finished":
            view.status, view.message = event.verdict or "done", self._local(event.message)

    def _start(self, event: Event) -> None:
        view = self.view
        view.run_id, view.status, view.message, view.gate = event.run_id, "running", "", {}
        for stage in event.data.get("stages") or []:
            view.stages.setdefault(stage, ("pending", ""))
        for stage, verdict in (event.data.get("done_stages") or {}).items():
            view.stages[stage] = (str(verdict or "PASS"), view.stages.get(stage, ("", ""))[1])

    def _local(self, text: str) -> str:
        """Stage text with this machine's repository path made relative."""
        return re.sub(rf"(?<!file://){re.escape(str(self.root))}(/|\b)", lambda m: "" if m.group(1) else ".",
                      text or "")


# ------------------------------------------------------------------- rendering


def wanted_label(view: RunView) -> str | None:
    """The one status label the issue should carry (none for a finished run without a PR)."""
    if view.status == "done":
        return LABELS["done"] if view.pr_url else None
    if view.status in ("failed", "budget"):
        return LABELS["blocked"]
    return LABELS.get(view.status)


def render(view: RunView, issue: int, branch: str) -> str:
    """The comment: headline, one row per stage, then what to do now."""
    lines = [MARKER, f"**agentos** · issue #{issue} · **{HEADLINE.get(view.status, inline(view.status))}**", "",
             "| stage | status | details |", "|---|---|---|"]
    for stage, (state, detail) in view.stages.items():
        lines.append(f"| {inline(stage)} | {STAGE_MARK.get(state, inline(state))} | {inline(detail, 200)} |")
    lines += ["", *_what_now(view, issue, branch), "",
              f"<sub>run {code(view.run_id)} · model cost ${view.cost_usd:.4f} · "
              f"this comment is updated in place</sub>"]
    return "\n".join(lines) + "\n"


def _what_now(view: RunView, issue: int, branch: str) -> list[str]:
    if view.status == "paused":
        return _paused(view.gate, issue, branch)
    if view.status == "done" and view.pr_url:
        return [f"**Pull request:** {view.pr_url}"]
    if view.status in ("blocked", "failed", "budget", "interrupted"):
        return _stopped(view, issue)
    return []


def _paused(gate: dict, issue: int, branch: str) -> list[str]:
    stage, name = gate.get("stage") or "previous stage", gate.get("gate") or "?"
    artifact = f" ({code(gate['artifact'])} on branch {code(branch)})" if gate.get("artifact") else ""
    return [f"**Waiting for approval at gate {code(name)}:** review the {inline(stage)} result{artifact}.",
            "To continue, someone with write access to the repository comments on this issue:",
            "- `/agentos approve`, or",
            "- `/agentos reject <what to change>` (the stage revises its result with this feedback)",
            "",
            f"The run continues at the next `orchestrate --issue {issue}` or `agentos poll`."]


def _stopped(view: RunView, issue: int) -> list[str]:
    """Why the run stopped, and the commands that go on from there (the same as `agentos status`)."""
    what = {"blocked": f"It stopped: {inline(view.message, 500)}",
            "failed": f"It stopped with an error: {inline(view.message, 500)}",
            "budget": f"It stopped: {inline(view.message, 500)}",
            "interrupted": f"It was stopped: {inline(view.message, 500)}"}[view.status]
    stage = next((name for name, (state, _) in view.stages.items() if state == "BLOCK"), "")
    steps = next_steps(issue, view.status, blocker=Blocker(stage, view.message) if stage else None)
    return [what, "", "**What to do:**", *[f"- {inline(s.what)}: {code(s.command)}" for s in steps],
            "", f"The run's details: `agentos status {issue}`."]
