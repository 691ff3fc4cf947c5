"""`agentos batch --dry-run`: each issue's plan with a cost estimate, and the batch's total.
Calls no model and writes nothing."""

from __future__ import annotations

from agentos import runs
from agentos.batch.estimate import estimate
from agentos.config import LoadedConfig
from agentos.forge.base import Issue
from agentos.llm.models import unpriced
from agentos.paths import RepoLayout
from agentos.progress.view import plural
from agentos.workflows.orchestrator.config import model_uses
from agentos.workflows.orchestrator.plan import make_plan
from agentos.workflows.orchestrator.state import STAGES
from agentos.workflows.workspace import Workspace


def render_dry_run(layout: RepoLayout, loaded: LoadedConfig, opts, issues: list[Issue], engine) -> str:
    config = loaded.config
    cfg = config.batch
    budget = f"${cfg.budget_usd:.2f}" if cfg.budget_usd else "none"
    lines = [f"Batch of {plural(len(issues), 'issue')} ({opts.key}) in {layout.root}",
             f"  engine {engine.name}, {plural(engine.workers, 'worker')}; batch budget {budget}; "
             f"order: labels {cfg.priority_labels or '(none)'}, then {'oldest' if cfg.oldest_first else 'newest'} first",
             ""]
    low = high = 0.0
    for issue in issues:
        latest = runs.latest(layout, issue.number)
        if latest is not None and latest.status == "done":
            lines.append(f"  #{issue.number:<5} {_short(issue.title, 44):<44} done already: nothing to run")
            continue
        plan = make_plan(config, Workspace.for_issue(layout, config, issue.number))
        est = estimate(config, plan, f"{issue.title}\n{issue.body}")
        low, high = low + est.low_usd, high + est.high_usd
        stages = " ".join(s if plan[s]["action"] == "run" else f"({s})" for s in STAGES)
        lines.append(f"  #{issue.number:<5} {_short(issue.title, 44):<44} {stages:<28} "
                     f"${est.low_usd:.2f}-${est.high_usd:.2f} ({est.calls_low}-{est.calls_high} calls)")
    lines += ["", f"  total estimate: ${low:.2f} (one round per stage) to ${high:.2f} (every revision and fix round)"]
    free = sorted({m for _, _, m in model_uses(config) if unpriced(m)})
    if free:
        lines.append(f"  unpriced models count $0 here and cannot be capped: {', '.join(free)}")
    lines.append("  (stage) = skipped: an approved document exists.\n\nDry run: no model was called and nothing was written.")
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
