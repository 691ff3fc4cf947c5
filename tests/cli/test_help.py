"""Help like gh: every command and option of both entry points explains itself, generated from
the Typer apps themselves so a new flag without a help line fails here."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from agentos.cli.main import app as agentos_app
from agentos.cli.orchestrate import app as orchestrate_app


def _commands(command, path=()):
    """(path, command) for the command and every subcommand under it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


ALL = [(app, path, cmd) for app in (agentos_app, orchestrate_app) for path, cmd in _commands(typer.main.get_command(app))]


@pytest.mark.parametrize(("app", "path", "command"), ALL, ids=[" ".join(p) or a.info.name or "root" for a, p, _ in ALL])
def test_every_command_and_option_has_a_help_line(app, path, command):
    assert (command.help or "").strip(), f"{' '.join(path)} has no help"
    missing = [param.name for param in command.params if not (getattr(param, "help", "") or "").strip()]
    assert missing == [], f"{' '.join(path) or 'root'}: no help for {missing}"
    shown = CliRunner().invoke(app, [*path, "-h"])
    assert shown.exit_code == 0 and "Usage:" in shown.output
    options = [line for line in shown.output.splitlines() if line.lstrip().startswith("-")]
    assert "list[" not in shown.output and not [line for line in options if "<str>" in line or "<path>" in line]


def test_bare_agentos_prints_help_and_exits_0():
    result = CliRunner().invoke(agentos_app, [])
    assert result.exit_code == 0 and "Commands:" in result.output and "Examples:" in result.output


@pytest.mark.parametrize("app", [agentos_app, orchestrate_app])
def test_version(app):
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("agentos ")


def test_resume_from_lists_its_choices_and_takes_implementation():
    shown = CliRunner().invoke(orchestrate_app, ["-h"]).output
    assert "--resume-from [triage|lld|spec|impl|review|pr]" in shown
    bad = CliRunner().invoke(orchestrate_app, ["--issue", "1", "--resume-from", "nope"])
    assert bad.exit_code == 2 and "choose one of: triage|lld|spec|impl|review|pr" in bad.output
    from agentos.cli.orchestrate import _stage_choice

    assert _stage_choice("implementation") == "impl" and _stage_choice("LLD") == "lld"


def test_resume_from_offers_the_orchestrators_stages():
    from agentos.cli.orchestrate import STAGE_CHOICES
    from agentos.workflows.orchestrator.state import STAGES

    assert STAGE_CHOICES == STAGES  # kept as a literal so `orchestrate -h` loads no graph engine
