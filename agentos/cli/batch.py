"""`agentos batch`: many issues at once, and `agentos batch status`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from agentos.cli.common import run_cli

app = typer.Typer(add_completion=False, rich_markup_mode=None, invoke_without_command=True,
                  help="Run many issues at once: each as `orchestrate --issue N` would, in parallel, within one "
                       "budget and the providers' shared limits. Killed or paused, the same command continues it.")


@app.callback()
def batch(
    ctx: typer.Context,
    issues: Optional[str] = typer.Option(None, "--issues", metavar="N,M-K", help="Issue numbers and ranges, e.g. 3,5,8-12."),
    label: Optional[str] = typer.Option(None, "--label", metavar="LABEL", help="Every open issue with this label."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, metavar="N", help="Issues at once (default: what the machine and the providers' limits sustain)."),
    budget_usd: Optional[float] = typer.Option(None, "--budget-usd", metavar="USD", help="Cap on the whole batch's model spend."),
    engine: Optional[str] = typer.Option(None, "--engine", metavar="local|ray", help="local (a pool of processes, default) or ray."),
    address: Optional[str] = typer.Option(None, "--address", metavar="ADDRESS", help="The Ray cluster (with --engine ray)."),
    repo: Optional[Path] = typer.Option(None, "--repo", metavar="PATH", help="Target git repository (default: the current one)."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE", help="Config file (default: <repo>/.agentos/config.yaml)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key (for every issue)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Each issue's plan and cost estimate; call no model, write nothing."),
    plain: bool = typer.Option(False, "--plain", help="Plain lines instead of the live table."),
) -> None:
    """Run the selected issues (by --issues, by --label, or every open one)."""
    if ctx.invoked_subcommand is not None:
        return
    from agentos.batch.run import BatchOptions, run_batch

    flags = {"batch.workers": workers, "batch.budget_usd": budget_usd, "batch.engine": engine,
             "batch.address": address}
    opts = BatchOptions(issues=issues, label=label, repo=repo, config_file=config, sets=set_, flags=flags,
                        dry_run=dry_run, plain=plain)

    def body() -> int:
        result = run_batch(opts)
        typer.echo(result.message)
        return result.exit_code

    run_cli(body, repo)


@app.command()
def status(
    batch_id: Optional[str] = typer.Argument(None, metavar="ID", help="Which batch (default: the latest)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    repo: Optional[Path] = typer.Option(None, "--repo", metavar="PATH", help="Target git repository (default: the current one)."),
) -> None:
    """Where a batch stands: each issue's status, stage and cost, and the totals."""
    from agentos.batch.run import batch_status
    from agentos.batch.view import render

    def body() -> None:
        info = batch_status(repo, batch_id)
        typer.echo(json.dumps(info, indent=2) if as_json else render(info))

    run_cli(body, repo)
