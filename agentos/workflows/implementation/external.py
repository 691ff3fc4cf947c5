"""Agent CLIs as implementers: `claude-code:`, `codex:`, `gemini-cli:` and `aider:` ids.

The CLI runs non-interactively in the worktree (its agent-mode command line comes from the one
table of CLIs, llm/clis.py) with the task on stdin (aider: a message file), through the one
process runner: a process group of its own, ended whole at the timeout, inside the sandbox
(the worktree and the run's impl/ folder writable, the network for its model API, its own
config and key variables from the CLI table, nothing else of the user's). It is not trusted: what
it changed is checked with the same path rules as the built-in tools and put back where it
broke them, anything it did to the repository's git configuration or hooks is undone, and
the stage then runs the tests itself. Its own account of the work is kept for the record.

This module imports nothing heavy: `orchestrate --dry-run` asks it whether a CLI is ready.
"""

from __future__ import annotations

import fnmatch
import shutil
from dataclasses import dataclass
from pathlib import Path

from agentos.errors import ProviderConfigError
from agentos.llm.clis import CLIS, AgentCall, Cli, cli_name
from agentos.process import run_bounded
from agentos.redact import redact
from agentos.sandbox import Sandbox
from agentos.repo.git import Checkout
from agentos.workflows.implementation.tools import write_refusal

SCRATCH = (".aider*",)
"""State files agent CLIs leave in the repository root (caches, chat history): removed after a
run when untracked, so they never reach a commit."""


def is_external(model_id: str) -> bool:
    """Whether an implementer id names an agent CLI rather than a model provider."""
    return cli_name(model_id.partition(":")[0]) in CLIS


def parse(model_id: str) -> tuple[Cli, str]:
    """The agent CLI an implementer id names (old names accepted) and the model it asks for."""
    prefix, _, model = model_id.partition(":")
    cli = CLIS.get(cli_name(prefix))
    if cli is None or not model.strip():
        raise ProviderConfigError(
            f"implementer {model_id!r} is not in cli:model form",
            f"e.g. claude-code:sonnet; agent CLIs: {', '.join(f'{name}:<model>' for name in CLIS)}",
        )
    return cli, model.strip()


def readiness(model_id: str) -> str | None:
    """Why this agent CLI cannot run here, or None."""
    try:
        cli, _ = parse(model_id)
    except ProviderConfigError as exc:
        return exc.message
    if shutil.which(cli.binary) is None:
        return f"`{cli.binary}` ({cli.title}) is not on PATH; {cli.install_hint()}"
    return None


@dataclass
class AgentRun:
    command: list[str]
    exit_code: int | None
    timed_out: bool
    duration_s: float
    output: str
    """What the CLI printed (head and tail), with secrets redacted."""


def run_agent(model_id: str, task: str, worktree: Path, timeout_s: float, log_dir: Path,
              label: str, files: list[str], sandbox: Sandbox) -> AgentRun:
    """Run the CLI once on `task` in `worktree`; raises ProviderConfigError when it cannot start."""
    cli, model = parse(model_id)
    log_dir.mkdir(parents=True, exist_ok=True)
    task_file = log_dir / f"{label}-task.md"
    task_file.write_text(redact(task), encoding="utf-8")
    argv = cli.agent_argv(AgentCall(shutil.which(cli.binary) or cli.binary, model, task_file, log_dir, files))
    confine = sandbox.agent(worktree, cli.binary, cli.config_paths, cli.own_keys).also_writable(log_dir)
    try:
        run = run_bounded(argv, worktree, timeout_s, stdin=task_file if cli.task_on_stdin else None,
                          head_chars=4000, tail_chars=16000, confine=confine)
    except OSError as exc:
        raise ProviderConfigError(
            f"implementer {model_id}: `{cli.binary}` could not start: {exc.strerror}",
            f"{cli.install_hint()} and put `{cli.binary}` on PATH, or choose another "
            "stages.implementation.implementer",
        ) from None
    output = redact(run.clipped(20000))
    (log_dir / f"{label}-output.log").write_text(output, encoding="utf-8")
    return AgentRun(argv, run.exit_code, run.timed_out, run.duration_s, output)


def remove_scratch(worktree: Path, git: Checkout) -> list[str]:
    """Delete the untracked state files agent CLIs leave in the repository root."""
    tops = {rel.split("/", 1)[0] for rel in git.dirty_paths()}
    removed = []
    for top in sorted(tops):
        path = worktree / top
        if not any(fnmatch.fnmatchcase(top, g) for g in SCRATCH) or git.run("ls-files", "--", top):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        removed.append(top)
    return removed


def refused_changes(worktree: Path, changed: list[str], allowed: list[str], guard=None) -> dict[str, str]:
    """Changed path → why it may not stay: the built-in tools' rules, plus links leading out."""
    root = worktree.resolve()
    refused = {}
    for rel in changed:
        path = worktree / rel
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            refused[rel] = f"{rel}: a link that leads outside the repository"
        elif reason := write_refusal(rel, allowed) or (guard and guard(rel)):
            refused[rel] = reason
    return refused


def put_back(git: Checkout, worktree: Path, ref: str, paths: list[str]) -> None:
    """Return `paths` to their state at `ref`: restored when they existed there, else removed."""
    existing = [p for p in paths if git.show_file(ref, p) is not None]
    git.checkout_paths(ref, existing)
    for rel in set(paths) - set(existing):
        git.run("rm", "--quiet", "--cached", "--ignore-unmatch", "--", rel)
        if (worktree / rel).is_symlink() or (worktree / rel).is_file():
            (worktree / rel).unlink()


class GitAdminGuard:
    """Notes the repository's git config and hooks before an agent CLI runs, and afterwards
    restores whatever it changed there (a hook or an alias would run the next time the user
    runs git)."""

    def __init__(self, git: Checkout):
        self.common = Path(git.run("rev-parse", "--path-format=absolute", "--git-common-dir"))
        self.own = Path(git.run("rev-parse", "--path-format=absolute", "--git-dir"))
        self.before = {path: path.read_bytes() for path in self._watched()}

    def _watched(self) -> list[Path]:
        hooks = self.common / "hooks"
        found = [self.common / "config", self.own / "config.worktree"]
        found += sorted(p for p in hooks.iterdir() if p.is_file()) if hooks.is_dir() else []
        return [p for p in found if p.is_file()]

    def restore(self) -> list[str]:
        """Put back every watched file that changed, remove new ones; the names touched."""
        touched = []
        for path in sorted(set(self._watched()) | set(self.before)):
            was = self.before.get(path)
            now = path.read_bytes() if path.is_file() else None
            if now == was:
                continue
            touched.append(str(path))
            if was is None:
                path.unlink()
            else:
                path.write_bytes(was)
        return touched
