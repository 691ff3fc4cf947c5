"""What to do next about a run, in commands: the one place the terminal, `agentos status`, the
dashboard and the issue's progress comment take their next steps from."""

from __future__ import annotations

from agentos.readmodel.model import Blocker, Step, stage_label

LIMITS = {"triage": "stages.triage.max_revisions", "lld": "stages.lld.max_revisions",
          "spec": "stages.spec.max_revisions", "impl": "stages.implementation.max_test_retries",
          "review": "stages.review.max_rounds"}
"""The `--set` key that bounds each stage's rounds."""
RESUMABLE = ("triage", "lld", "spec", "impl", "review", "pr")
"""What `--resume-from` accepts: the orchestrator's stages (a test keeps the two equal; this
layer may not import the orchestrator)."""


def next_steps(issue: int, status: str, gate: dict | None = None, blocker: Blocker | None = None,
               repo: str = "") -> list[Step]:
    """The commands that move the run on from `status` (repo: a ` --repo PATH` suffix or "")."""
    go = f"orchestrate --issue {issue}{repo}"
    if status == "paused":
        return paused_steps(issue, gate or {}, repo)
    if status in ("interrupted", "failed"):
        what = ("run it again: it continues where it stopped" if status == "interrupted"
                else "fix the cause, then run it again: it continues where it stopped")
        return [Step(what, go), Step("see the details", f"agentos status {issue}{repo}")]
    if status == "budget":
        return [Step("raise the run's budget and continue", f"{go} --set budget_usd=AMOUNT")]
    if status == "blocked":
        return blocked_steps(issue, blocker, repo)
    if status == "done":
        return [Step("read the pull request", f"agentos show {issue} pr{repo}")]
    return []


def paused_steps(issue: int, gate: dict, repo: str = "") -> list[Step]:
    """Decide the gate (and look first), then continue."""
    stage = gate.get("stage") or ""
    look = f"agentos show {issue} {stage_doc(stage)}{repo}"
    return [Step(f"read what is to be approved ({stage_label(stage)})", look),
            Step("approve", f"agentos approve {issue}{repo}"),
            Step("reject with what to change", f'agentos reject {issue}{repo} --feedback "what to change"'),
            Step("then continue", f"orchestrate --issue {issue}{repo}")]


def blocked_steps(issue: int, blocker: Blocker | None, repo: str = "") -> list[Step]:
    """A blocked stage: revise the issue and redo the stage, or give it more rounds."""
    go = f"orchestrate --issue {issue}{repo}"
    stage = blocker.stage if blocker else ""
    if stage not in RESUMABLE:
        return [Step("fix what the message says, then run again", go)]
    steps = [Step("revise the issue (or the earlier documents) and redo the stage", f"{go} --resume-from {stage}")]
    if stage in LIMITS:
        steps.append(Step("or give the stage more rounds", f"{go} --resume-from {stage} --set {LIMITS[stage]}=N"))
    return steps


def stage_doc(stage: str) -> str:
    """The `agentos show` view for a stage's result."""
    return {"triage": "brief", "lld": "lld", "spec": "spec", "impl": "diff", "review": "diff",
            "pr": "pr"}.get(stage, "brief")


def render_steps(steps: list[Step], indent: str = "  ") -> list[str]:
    """Next steps as plain lines, the commands aligned: "  agentos approve 12   approve"."""
    wide = max((len(s.command) for s in steps), default=0)
    return [f"{indent}{s.command.ljust(wide)}  {s.what}" for s in steps]


def render_blocker(b: Blocker, findings: int = 10, tests: int = 20) -> list[str]:
    """Why a run stopped, as plain lines: the reason, the open findings, the failing tests."""
    lines = [f"Stopped in {stage_label(b.stage) or 'the run'}: {b.reason}"]
    if b.findings:
        lines.append(f"  open review findings ({len(b.findings)}):")
        lines += [f"    - {f}" for f in b.findings[:findings]]
    if b.failing_tests:
        lines.append(f"  failing tests ({len(b.failing_tests)}):")
        lines += [f"    - {t}" for t in b.failing_tests[:tests]]
    return lines
