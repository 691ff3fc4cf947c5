"""What every command shares: turning errors into exit codes and messages, -h and --version."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import typer

from agentos.errors import AgentosError, DiskError, ExitCode, Terminated
from agentos.process import end_children
from agentos.redact import redact

if TYPE_CHECKING:
    from agentos.workflows.orchestrator.driver import RunResult


HELP = {"help_option_names": ["-h", "--help"]}
"""Every command takes -h as well as --help."""


def show_help_when_bare(ctx: typer.Context) -> None:
    # Bare `agentos` (or `agentos issue`): the help, exit 0, as gh does.
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def print_version(on: bool) -> None:
    """The --version option's callback: print the version and exit."""
    if on:
        from agentos import __version__

        typer.echo(f"agentos {__version__}")
        raise typer.Exit(0)


VersionOpt = typer.Option(False, "--version", is_eager=True, callback=print_version,
                          help="Print the version of agentos and exit.")


def version_option(then: Callable[[typer.Context], None]) -> Callable[..., None]:
    """A group callback with `--version`, running `then` otherwise."""
    def callback(ctx: typer.Context, version: bool = VersionOpt) -> None:
        then(ctx)

    return callback


def run_cli(fn: Callable[[], int | None], repo: Path | None = None) -> None:
    """Run a command body and exit with the code it returns (None: done); expected errors print a message and a hint.

    SIGTERM is handled as Ctrl-C is; after either, every child process group still running is ended."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminated), signal.SIGINT: signal.getsignal(signal.SIGINT)}
    try:
        code: int | None = fn()
    except Terminated:
        _end_children()
        print("terminated (SIGTERM); run the same command again to continue where it stopped", file=sys.stderr)
        code = ExitCode.TERMINATED
    except AgentosError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        code = exc.exit_code
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours. Quietly, as git does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        _end_children()
        print("interrupted; run the same command again to continue where it stopped", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except OSError as exc:  # a full or read-only disk is the machine's state, not a bug
        _end_children()
        disk = DiskError.of(exc)
        if disk is None:
            code = _internal_error(repo)
        else:
            print(f"error: {redact(str(disk))}", file=sys.stderr)
            code = disk.exit_code
    except Exception:  # a bug: keep the details, show the way to them
        _end_children()
        code = _internal_error(repo)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    raise SystemExit(ExitCode.DONE if code is None else int(code))


def _terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _end_children() -> None:
    """End every child process group still running; a second Ctrl-C or SIGTERM must not cut this short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    end_children()


def report(result: RunResult) -> int:
    """Print a run's message; its exit code is the command's."""
    typer.echo(redact(result.message))
    return result.exit_code


def _internal_error(repo: Path | None) -> int:
    """Keep the details of a bug in a crash log and show the way to it (or the details, when no log can be written)."""
    details = redact(traceback.format_exc())
    log = _write_crash_log(repo, details)
    if log is None:
        print(f"internal error (a bug in agentos); no crash log could be written, the details:\n{details}",
              file=sys.stderr)
    else:
        print(f"internal error (a bug in agentos); details in {log}", file=sys.stderr)
    return ExitCode.INTERNAL


def _write_crash_log(repo: Path | None, details: str) -> Path | None:
    """Write the crash log in the repository's .agentos/logs, else the user's cache or temp folder
    (the repository's disk may be what failed); None when nothing can be written."""
    name = f"agentos-error-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    for folder in _crash_log_folders(repo):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(details, encoding="utf-8")
            return folder / name
        except OSError:
            continue
    return None


def _crash_log_folders(repo: Path | None) -> list[Path]:
    folders = []
    try:
        from agentos.paths import RepoLayout, find_repo_root

        folders.append(RepoLayout(find_repo_root(repo)).logs_dir)
    except Exception:  # noqa: BLE001 - whatever broke the command may break this too
        pass
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [*folders, Path(cache) / "agentos" / "logs", Path(tempfile.gettempdir())]


def can_prompt(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()
