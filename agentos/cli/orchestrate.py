"""`orchestrate --issue N`: take an issue through triage, LLD, spec and implementation to a PR."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from agentos.cli.common import HELP, VersionOpt, can_prompt, report, run_cli
from agentos.errors import ExitCode

app = typer.Typer(add_completion=False, rich_markup_mode=None, context_settings=HELP)

STAGE_CHOICES = ("triage", "lld", "spec", "impl", "review", "pr")
STAGE_ALIASES = {"implementation": "impl", "brief": "triage"}
EXITS = ", ".join(f"{c.value} {c.name.lower()}"
                  for c in (ExitCode.DONE, ExitCode.USAGE, ExitCode.PAUSED, ExitCode.BLOCKED, ExitCode.BUDGET))
EXAMPLES = """\b
Examples:
  orchestrate --issue 12                       to a PR, pausing at the configured gates
  orchestrate --issue 12 --dry-run             the plan and its pre-flight checks (exit 2 if it cannot run)
  orchestrate --issue 12 --gate-after-lld      also stop for approval after the design
  orchestrate --issue 12 --resume-from spec    redo the spec and what follows, on the approved LLD
  orchestrate --issue 12 --set budget_usd=5    cap the run's model spend"""


def _stage_choice(value: str | None) -> str | None:
    """--resume-from: one of the stages (implementation is impl)."""
    if value is None:
        return None
    stage = STAGE_ALIASES.get(value.lower(), value.lower())
    if stage not in STAGE_CHOICES:
        raise typer.BadParameter(f"{value!r} is not a stage; choose one of: {'|'.join(STAGE_CHOICES)}")
    return stage


def _gate_flag(stage: str) -> str:
    return f"Stop for approval {stage} (overrides gates.* in the config)."


@app.command(help=f"Take issue N to a reviewed, tested pull request (exit {EXITS}).", epilog=EXAMPLES)
def orchestrate(
    issue: int = typer.Option(..., "--issue", "-i", metavar="N", help="Issue number to take to a PR."),
    repo: Optional[Path] = typer.Option(None, "--repo", metavar="PATH", help="Target git repository (default: the current one)."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE", help="Config file (default: <repo>/.agentos/config.yaml)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key, e.g. stages.lld.max_revisions=2."),
    skip_triage: bool = typer.Option(False, "--skip-triage", help="Reuse the existing issue brief."),
    skip_lld: bool = typer.Option(False, "--skip-lld", help="Reuse the existing LLD (exit 2 if there is none)."),
    skip_spec: bool = typer.Option(False, "--skip-spec", help="Reuse the existing spec (exit 2 if there is none)."),
    resume_from: Optional[str] = typer.Option(None, "--resume-from", metavar="[" + "|".join(STAGE_CHOICES) + "]",
                                              callback=_stage_choice,
                                              help="Run again from this stage (implementation = impl) on the earlier stages' documents."),
    gate_after_triage: Optional[bool] = typer.Option(None, "--gate-after-triage/--no-gate-after-triage", help=_gate_flag("after the issue brief")),
    gate_after_lld: Optional[bool] = typer.Option(None, "--gate-after-lld/--no-gate-after-lld", help=_gate_flag("after the LLD")),
    gate_after_spec: Optional[bool] = typer.Option(None, "--gate-after-spec/--no-gate-after-spec", help=_gate_flag("after the spec")),
    gate_after_review: Optional[bool] = typer.Option(None, "--gate-after-review/--no-gate-after-review", help=_gate_flag("after the code review")),
    gate_before_pr: Optional[bool] = typer.Option(None, "--gate-before-pr/--no-gate-before-pr", help=_gate_flag("before opening the PR")),
    base_branch: Optional[str] = typer.Option(None, "--base-branch", metavar="BRANCH", help="Branch to start from and target."),
    repo_slug: Optional[str] = typer.Option(None, "--repo-slug", metavar="OWNER/NAME", help="GitHub repository as owner/name (default: from the origin remote)."),
    allow_closed: bool = typer.Option(False, "--allow-closed", help="Work on the issue even though it is closed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; call no model, write nothing (exit 2 if the plan cannot run)."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt; pause at gates (exit 3)."),
    plain: bool = typer.Option(False, "--plain", help="Plain progress lines instead of the live view."),
    wait: bool = typer.Option(False, "--wait", help="If the issue is being run by another process, wait for it to end."),
    version: bool = VersionOpt,
) -> None:
    """Take issue N to a reviewed, tested pull request."""
    from agentos.workflows.orchestrator.run import orchestrate as run
    from agentos.workflows.orchestrator.session import RunOptions

    flags = {"gates.after_triage": gate_after_triage, "gates.after_lld": gate_after_lld,
             "gates.after_spec": gate_after_spec, "gates.after_review": gate_after_review,
             "gates.before_pr": gate_before_pr,
             "base_branch": base_branch, "github.repo_slug": repo_slug}
    skip = {s for s, on in (("triage", skip_triage), ("lld", skip_lld), ("spec", skip_spec)) if on}
    opts = RunOptions(issue=issue, repo=repo, config_file=config, sets=set_, flags=flags, skip=skip,
                      resume_from=resume_from, dry_run=dry_run, plain=plain, allow_closed=allow_closed, wait=wait)

    from agentos.cli.gate_prompt import gate_asker

    run_cli(lambda: report(run(opts, ask=gate_asker(repo) if can_prompt(no_input) else None)), repo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
