"""`agentos <command>`: the demo, issues, gates, status, config and each workflow on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from agentos.cli.batch import app as batch_app
from agentos.cli.common import report, run_cli

app = typer.Typer(add_completion=False, rich_markup_mode=None, no_args_is_help=True,
                  help="agentos: issues to reviewed, tested pull requests.")
issue_app = typer.Typer(no_args_is_help=True, help="Issues of the local forge (.agentos/issues/).")
config_app = typer.Typer(no_args_is_help=True, help="The effective configuration and its schema.")
app.add_typer(issue_app, name="issue")
app.add_typer(config_app, name="config")
app.add_typer(batch_app, name="batch")

RepoOpt = typer.Option(None, "--repo", help="Target git repository (default: the current one).")


@app.command()
def demo(
    dir: Path = typer.Option(Path("agentos-demo"), "--dir", help="Where to create the sample repository."),
    plain: bool = typer.Option(False, "--plain", help="Plain progress lines instead of the live view."),
) -> None:
    """Create a sample repository with one issue and run the whole pipeline on scripted models."""
    from agentos.demo import run_demo

    run_cli(lambda: typer.echo(run_demo(dir, plain=plain)))


@issue_app.command("new")
def issue_new(
    title: str = typer.Option(..., "--title"),
    body_file: Optional[Path] = typer.Option(None, "--body-file", help="Markdown file with the issue body ('-' for stdin)."),
    label: list[str] = typer.Option([], "--label"),
    repo: Optional[Path] = RepoOpt,
) -> None:
    """Create an issue in the local forge."""
    from agentos.commands.issues import new_issue

    run_cli(lambda: typer.echo(new_issue(repo, title, body_file, label)), repo)


@issue_app.command("list")
def issue_list(repo: Optional[Path] = RepoOpt) -> None:
    """List the local forge's issues."""
    from agentos.commands.issues import list_issues

    def body() -> None:
        text = list_issues(repo)
        if text:
            typer.echo(text)

    run_cli(body, repo)


def _decide(issue: int, action: str, feedback: Optional[str], repo: Optional[Path]) -> None:
    from agentos.commands.gates import record_decision
    from agentos.workflows.orchestrator.session import RunOptions

    run_cli(lambda: typer.echo(record_decision(RunOptions(issue=issue, repo=repo), action, feedback)), repo)


@app.command()
def approve(issue: int = typer.Argument(...), repo: Optional[Path] = RepoOpt) -> None:
    """Approve the gate a paused run is waiting at; `orchestrate --issue N` then continues."""
    _decide(issue, "approve", None, repo)


@app.command()
def reject(
    issue: int = typer.Argument(...),
    feedback: str = typer.Option(..., "--feedback", help="What should change; goes to the stage's next revision."),
    repo: Optional[Path] = RepoOpt,
) -> None:
    """Reject the gated result with feedback; the stage revises it when the run continues."""
    _decide(issue, "reject", feedback, repo)


@app.command()
def poll(
    repo: Optional[Path] = RepoOpt,
    plain: bool = typer.Option(False, "--plain", help="Plain progress lines instead of the live view."),
) -> None:
    """Continue every paused run whose gate was decided (`agentos approve|reject` or a `/agentos` issue comment)."""
    from agentos.commands.gates import poll as poll_runs

    run_cli(lambda: report(poll_runs(repo, plain=plain)), repo)


@app.command()
def status(
    issue: int = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    repo: Optional[Path] = RepoOpt,
) -> None:
    """Where the issue's latest run stands: stage, verdicts, artifacts, PR, time and cost."""
    from agentos.commands.status import render_status, run_status

    def body() -> None:
        info = run_status(repo, issue)
        typer.echo(json.dumps(info, indent=2) if as_json else render_status(info))

    run_cli(body, repo)


@app.command()
def repair(repo: Optional[Path] = RepoOpt) -> None:
    """Move a damaged checkpoint database (.agentos/state.db) aside; its runs start again from what is on their branches."""
    from agentos.commands.repair import repair as repair_state

    run_cli(lambda: typer.echo(repair_state(repo)), repo)


@app.command()
def serve(
    repo: Optional[Path] = RepoOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; beyond loopback a token is required."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the dashboard in the default browser."),
) -> None:
    """The web dashboard: every run, its documents, diff, tests and cost; decide gates from the page."""
    from agentos.web.server import serve as run_server

    run_cli(lambda: run_server(repo, host, port, open_browser), repo)


@app.command()
def doctor(
    online: bool = typer.Option(False, "--online", help="Also make a one-token call to each model."),
    repo: Optional[Path] = RepoOpt,
    config: Optional[Path] = typer.Option(None, "--config"),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key."),
) -> None:
    """For each configured model: key present, SDK or CLI installed, endpoint reachable (exit 2 if not)."""
    from agentos.commands.doctor import run_doctor
    from agentos.errors import ExitCode

    def body() -> int:
        report, ready = run_doctor(repo, online, config, set_)
        typer.echo(report)
        return ExitCode.DONE if ready else ExitCode.USAGE

    run_cli(body, repo)


@config_app.command("show")
def config_show(
    repo: Optional[Path] = RepoOpt,
    config: Optional[Path] = typer.Option(None, "--config"),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key."),
) -> None:
    """The effective configuration, each value with where it came from."""
    from agentos.commands.settings import show_config

    run_cli(lambda: typer.echo(show_config(repo, config, set_)), repo)


@config_app.command("schema")
def config_schema() -> None:
    """JSON Schema of .agentos/config.yaml, for editors."""
    from agentos.config import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


def _workflow_command(stage: str, doc: str):
    def command(
        issue: int = typer.Option(..., "--issue", "-i"),
        repo: Optional[Path] = RepoOpt,
        config: Optional[Path] = typer.Option(None, "--config"),
        set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key."),
        plain: bool = typer.Option(False, "--plain"),
        wait: bool = typer.Option(False, "--wait", help="If the issue is being run by another process, wait for it to end."),
    ) -> None:
        from agentos.workflows.orchestrator.run import run_workflow
        from agentos.workflows.orchestrator.session import RunOptions

        opts = RunOptions(issue=issue, repo=repo, config_file=config, sets=set_, plain=plain, wait=wait)
        run_cli(lambda: report(run_workflow(stage, opts)), repo)

    command.__doc__ = doc
    return command


app.command("triage")(_workflow_command("triage", "Run only the triage workflow: write and review the issue brief."))
app.command("lld")(_workflow_command("lld", "Run only the LLD workflow: draft and review the low-level design."))
app.command("spec")(_workflow_command("spec", "Run only the spec workflow: draft and review the implementation spec."))
app.command("implement")(_workflow_command("impl", "Run only the implementation workflow in the issue's worktree."))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
