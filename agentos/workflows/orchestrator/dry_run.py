"""`--dry-run`: the plan in words, and whether it can run (a pre-flight check for CI: exit 2 when
it cannot, naming every reason: models not ready, a base branch that does not exist). Calls no
model and writes nothing."""

from __future__ import annotations

from agentos import runs
from agentos.errors import ExitCode
from agentos.llm.models import unpriced
from agentos.progress.view import plural
from agentos.workflows.orchestrator.driver import RunResult
from agentos.workflows.orchestrator.plan import make_plan
from agentos.workflows.orchestrator.session import RunOptions, Session, check_models
from agentos.workflows.orchestrator.config import GATE_AFTER, stage_config
from agentos.workflows.orchestrator.plan import DOC_STAGES
from agentos.workflows.orchestrator.state import STAGES
from agentos.workflows.review_loop.state import same_model_warning


def dry_run(session: Session, opts: RunOptions) -> RunResult:
    """The whole plan; then, for a finished issue, that it is done; for a plan whose models cannot
    run, why (exit 2), as the real run would refuse."""
    last = runs.latest(session.layout, opts.issue)
    if last and last.status == "done" and not opts.resume_from and not opts.skip:
        return RunResult(ExitCode.DONE, "dry-run",
                         f"issue #{opts.issue} is already done: {last.message}\n"
                         f"  a run would do nothing; to run a stage again: "
                         f"orchestrate --issue {opts.issue} --resume-from STAGE")
    plan = make_plan(session.config, session.workspace, opts.skip, opts.resume_from)
    readiness = check_models(session, plan, strict=False)
    text = "\n".join([*(f"note: {n}" for n in session.notes), render_plan(session, plan, readiness)])
    problems = [*session.problems, *(f"model {m}: {why}" for m, why in readiness.items() if why)]
    if not problems:
        return RunResult(ExitCode.DONE, "dry-run", text)
    return RunResult(ExitCode.USAGE, "dry-run", text + "\n\nerror: this plan cannot run:\n"
                     + "\n".join(f"  - {p}" for p in problems)
                     + "\n  hint: fix what is named (`agentos doctor` checks the models), then dry-run again")


def render_plan(session, plan: dict[str, dict], readiness: dict[str, str | None]) -> str:
    cfg = session.config
    ws = session.workspace
    lines = [
        f"Plan for issue #{session.issue.number}: {session.issue.title}",
        f"  repository: {session.layout.root}",
        f"  forge:      {session.forge.summary}",
        f"  branch:     {ws.branch} from {ws.base} (worktree {ws.path})",
        f"  config:     {session.loaded.file or 'built-in defaults'}",
        "",
    ]
    for stage in STAGES:
        p = plan[stage]
        lines.append(f"  {stage:<7} {p['action'].upper():<5} {p['reason']}")
        lines += [f"          {d}" for d in _details(session, stage)] if p["action"] == "run" else []
        for gate in GATE_AFTER.get(stage, ()):
            on = getattr(cfg.gates, gate)
            lines.append(f"          gate {gate}: {'human approval' if on else 'off (auto-continue)'}")
    lines += ["", "Models:"]
    lines += [_model_line(m, why) for m, why in readiness.items()] or ["  (none: every model stage is skipped)"]
    lines.append("\nDry run: no model was called and nothing was written.")
    return "\n".join(lines)


def _model_line(model_id: str, why: str | None) -> str:
    note = " (unpriced: its cost shows as $0 and budget caps cannot count it)" if unpriced(model_id) else ""
    return f"  {model_id:<32} {'ready' if why is None else 'NOT READY: ' + why}{note}"


def _details(session, stage: str) -> list[str]:
    cfg = session.config
    if stage in DOC_STAGES:
        c = stage_config(cfg, stage)
        lines = [f"drafter {c.drafter}, reviewer {c.reviewer}, max {plural(c.max_revisions, 'revision')}"]
        return lines + [w for w in [same_model_warning(stage, "drafter", c.drafter, c.reviewer)] if w]
    if stage == "review":
        c, implementer = stage_config(cfg, stage), cfg.stages.implementation.implementer
        lines = [f"reviewer {c.reviewer}, max {plural(c.max_rounds, 'round')}, up to "
                 f"{plural(c.adversarial_tests, 'adversarial test')} a round; fix rounds by the implementer"]
        return lines + [w for w in [same_model_warning(stage, "implementer", implementer, c.reviewer)] if w]
    if stage == "impl":
        from agentos.sandbox import report
        from agentos.workflows.implementation.environment import describe_tests

        c = stage_config(cfg, stage)
        ws = session.workspace
        where = ws.path if (ws.path / ".git").exists() else session.layout.root
        return [f"implementer {c.implementer}, {plural(c.max_test_retries, 'fix round')}, {c.max_steps} steps/round, "
                f"test timeout {c.test_timeout_s}s", *describe_tests(where, c), *report(cfg.sandbox, where)]
    return ["draft PR" if cfg.pr_draft else "ready-for-review PR"]
