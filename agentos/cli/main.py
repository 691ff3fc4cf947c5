"""`agentos <command>`: the demo, issues, gates, status, config and each workflow on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

import typer

from agentos.cli.batch import app as batch_app
from agentos.cli.common import HELP, report, run_cli, show_help_when_bare, version_option

EXAMPLES = """\b
Examples:
  orchestrate --issue 12            take issue 12 to a pull request
  agentos runs                      every issue's latest run
  agentos status 12                 where issue 12's run stands, and what to do next
  agentos show 12 lld               read its design (also: brief, spec, diff, tests, pr)
  agentos approve 12                approve the gate it waits at
  agentos demo                      try it on a sample repository, no keys needed"""

app = typer.Typer(add_completion=False, rich_markup_mode=None, context_settings=HELP, invoke_without_command=True,
                  help="agentos: issues to reviewed, tested pull requests.", epilog=EXAMPLES)
issue_app = typer.Typer(context_settings=HELP, invoke_without_command=True,
                        help="Issues of the local forge (.agentos/issues/).")
config_app = typer.Typer(context_settings=HELP, invoke_without_command=True,
                         help="The effective configuration and its schema.")
app.add_typer(issue_app, name="issue")
app.add_typer(config_app, name="config")
app.add_typer(batch_app, name="batch")
app.callback()(version_option(show_help_when_bare))
issue_app.callback()(show_help_when_bare)
config_app.callback()(show_help_when_bare)

RepoOpt = typer.Option(None, "--repo", metavar="PATH", help="Target git repository (default: the one you are in, "
                       "also from inside an issue's worktree).")
ConfigOpt = typer.Option(None, "--config", metavar="FILE", help="Config file (default: <repo>/.agentos/config.yaml).")
SetOpt = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a config key, e.g. stages.lld.max_revisions=2 (repeatable).")
PlainOpt = typer.Option(False, "--plain", help="Plain progress lines instead of the live view.")
IssueArg = typer.Argument(..., metavar="N", help="Issue number.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output: every field (see docs/cli.md).")


@app.command()
def demo(
    dir: Optional[Path] = typer.Option(None, "--dir", metavar="PATH",
                                       help="Where to create the sample repository (default: ./agentos-demo, or a "
                                            "temporary folder when you are inside a git checkout)."),
    plain: bool = PlainOpt,
) -> None:
    """Create a sample repository with one issue and run the whole pipeline on scripted models."""
    from agentos.demo import run_demo

    run_cli(lambda: typer.echo(run_demo(dir, plain=plain)))


@issue_app.command("new")
def issue_new(
    title: str = typer.Option(..., "--title", metavar="TEXT", help="The issue's title."),
    body_file: Optional[Path] = typer.Option(None, "--body-file", metavar="FILE", help="Markdown file with the issue body ('-' for stdin)."),
    label: list[str] = typer.Option([], "--label", metavar="LABEL", help="A label to put on it (repeatable)."),
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


@app.command(epilog="\b\nExamples:\n  agentos approve 12 && orchestrate --issue 12")
def approve(issue: int = IssueArg, repo: Optional[Path] = RepoOpt) -> None:
    """Approve the gate a paused run is waiting at; `orchestrate --issue N` then continues."""
    _decide(issue, "approve", None, repo)


@app.command(epilog="\b\nExamples:\n  agentos reject 12 --feedback \"Say what happens to an empty list\" && orchestrate --issue 12")
def reject(
    issue: int = IssueArg,
    feedback: str = typer.Option(..., "--feedback", metavar="TEXT", help="What should change; goes to the stage's next revision."),
    repo: Optional[Path] = RepoOpt,
) -> None:
    """Reject the gated result with feedback; the stage revises it when the run continues."""
    _decide(issue, "reject", feedback, repo)


@app.command()
def poll(
    repo: Optional[Path] = RepoOpt,
    plain: bool = PlainOpt,
) -> None:
    """Continue every paused run whose gate was decided (`agentos approve|reject` or a `/agentos` issue comment)."""
    from agentos.commands.gates import poll as poll_runs

    run_cli(lambda: report(poll_runs(repo, plain=plain)), repo)


@app.command(epilog="\b\nExamples:\n  agentos status 12\n  agentos status 12 --json | jq .summary.status")
def status(issue: int = IssueArg, as_json: bool = JsonOpt, repo: Optional[Path] = RepoOpt) -> None:
    """Where the issue's latest run stands: a row per stage, the gate it waits at, what to do next."""
    from agentos.commands.status import render_status, run_status
    from agentos.readmodel import as_json as to_json

    def body() -> None:
        detail = run_status(repo, issue)
        typer.echo(json.dumps(to_json(detail), indent=2) if as_json else render_status(detail))

    run_cli(body, repo)


@app.command("runs", epilog="\b\nExamples:\n  agentos runs\n  agentos runs --json | jq '.[] | select(.status == \"paused\")'")
def runs_list(as_json: bool = JsonOpt, repo: Optional[Path] = RepoOpt) -> None:
    """Every issue's latest run: status, stage, gate, PR, cost and age, newest first."""
    from agentos.commands.status import render_runs, runs_overview
    from agentos.readmodel import as_json as to_json

    def body() -> None:
        found = runs_overview(repo)
        typer.echo(json.dumps(to_json(found), indent=2) if as_json else render_runs(found))

    run_cli(body, repo)


@app.command(epilog="\b\nExamples:\n  agentos show 12            what the run asks you to look at now\n"
                    "  agentos show 12 diff       the branch's changes against its base\n"
                    "  PAGER=cat agentos show 12 lld")
def show(
    issue: int = IssueArg,
    what: Optional[Literal["brief", "lld", "spec", "diff", "tests", "pr"]] = typer.Argument(
        None, metavar="WHAT", help="What to show (default: what the run asks you to look at now)."),
    repo: Optional[Path] = RepoOpt,
) -> None:
    """Print a document, the branch's diff against its base, the test report or the PR body (paged on a terminal)."""
    from agentos.commands.show import show as show_text
    from agentos.process import page

    run_cli(lambda: page(show_text(repo, issue, what)), repo)


@app.command()
def repair(repo: Optional[Path] = RepoOpt) -> None:
    """Move a damaged checkpoint database (.agentos/state.db) aside; its runs start again from what is on their branches."""
    from agentos.commands.repair import repair as repair_state

    run_cli(lambda: typer.echo(repair_state(repo)), repo)


@app.command()
def serve(
    repo: Optional[Path] = RepoOpt,
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on; beyond loopback a token is required."),
    port: int = typer.Option(8765, "--port", metavar="PORT", help="Port to listen on (0: any free port)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the dashboard in the default browser."),
) -> None:
    """The web dashboard: every run, its documents, diff, tests and cost; decide gates from the page."""
    from agentos.web.server import serve as run_server

    run_cli(lambda: run_server(repo, host, port, open_browser), repo)


@app.command()
def doctor(
    online: bool = typer.Option(False, "--online", help="Also make a one-token call to each model."),
    repo: Optional[Path] = RepoOpt,
    config: Optional[Path] = ConfigOpt,
    set_: list[str] = SetOpt,
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
    config: Optional[Path] = ConfigOpt,
    set_: list[str] = SetOpt,
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
        issue: int = typer.Option(..., "--issue", "-i", metavar="N", help="Issue number."),
        repo: Optional[Path] = RepoOpt,
        config: Optional[Path] = ConfigOpt,
        set_: list[str] = SetOpt,
        plain: bool = PlainOpt,
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
app.command("review")(_workflow_command("review", "Run only the code review of the implementation on the issue's branch."))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
