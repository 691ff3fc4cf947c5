"""The agent CLIs agentos drives, and what it knows about each, in one table.

Each CLI has one name in every role: `claude-code:`, `codex:`, `gemini-cli:`, `aider:`. The role
comes from where the id is used. As a drafter or reviewer a CLI runs in text mode: it answers
on stdout in its JSON mode with its own tools off (llm/agent_cli.py). As the implementer it runs
in agent mode in the worktree and edits files itself (workflows/implementation/external.py).
aider has no text mode. The names older configs used stay accepted (OLD_NAMES).

In agent mode the CLI runs in the sandbox (agentos/sandbox): its private HOME holds only its
own config (`config_paths`, read-only) and it sees only its own key variables (`own_keys`).
In text mode it runs unsandboxed: it runs no code of the worktree (it has none, only a scratch
folder) and its own tools are off.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TextCall:
    """What a text-mode command line is built from."""

    command: str
    model: str
    """The API model id; empty for whatever model the CLI is set to use."""
    system: str
    schema: dict | None
    schema_file: Path
    """Where `schema` is written, for CLIs that take it as a file."""


@dataclass(frozen=True)
class AgentCall:
    """What an agent-mode command line is built from."""

    command: str
    model: str
    task_file: Path
    log_dir: Path
    files: list[str]
    """Files to hand the CLI up front (aider edits only files it was given)."""


@dataclass(frozen=True)
class Cli:
    """One agent CLI: its executable, how to install it, and its command line in each mode."""

    name: str
    binary: str
    title: str
    install: str
    own_keys: tuple[str, ...]
    """Key variables the CLI itself may use; no other secret is passed to it."""
    config_paths: tuple[str, ...]
    """Its own config and login, relative to HOME: read-only in the sandbox's private HOME."""
    agent_argv: Callable[[AgentCall], list[str]]
    text_argv: Callable[[TextCall], list[str]] | None = None
    """None when the CLI cannot be a drafter or reviewer."""
    task_on_stdin: bool = True
    """Agent mode: whether the task goes on stdin (else agent_argv names the task file)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Its name, then the old names that still mean it."""
        return (self.name, *(old for old, new in OLD_NAMES.items() if new == self.name))

    def install_hint(self) -> str:
        return f"install {self.title} ({self.install})"


def _model(model: str) -> list[str]:
    return ["--model", model] if model else []


CLAUDE_TOOLS_OFF = ["--disallowedTools", "Bash", "Edit", "Write", "MultiEdit", "NotebookEdit", "WebFetch",
                    "WebSearch", "Task"]


def _claude_text(c: TextCall) -> list[str]:
    argv = [c.command, "-p", "--output-format", "json", *CLAUDE_TOOLS_OFF, *_model(c.model)]
    argv += ["--system-prompt", c.system] if c.system else []
    return argv + (["--json-schema", json.dumps(c.schema)] if c.schema else [])


def _codex_text(c: TextCall) -> list[str]:
    schema = ["--output-schema", str(c.schema_file)] if c.schema is not None else []
    return [c.command, "exec", "--json", "--skip-git-repo-check", "--sandbox", "read-only", *_model(c.model),
            *schema, "-"]


def _gemini_text(c: TextCall) -> list[str]:
    return [c.command, "--output-format", "json", *_model(c.model),
            "--prompt", "Follow the instructions given on standard input."]


def _aider_agent(c: AgentCall) -> list[str]:
    return [c.command, "--model", c.model, "--message-file", str(c.task_file), "--yes-always",
            "--no-auto-commits", "--no-dirty-commits", "--no-gitignore", "--no-stream", "--no-pretty",
            "--no-check-update", "--analytics-disable", "--chat-history-file", str(c.log_dir / "aider.chat.md"),
            "--input-history-file", str(c.log_dir / "aider.input.history"), *c.files]


CLIS: dict[str, Cli] = {cli.name: cli for cli in (
    Cli("claude-code", "claude", "Claude Code", "npm install -g @anthropic-ai/claude-code",
        ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"), (".claude", ".claude.json", ".config/claude"),
        agent_argv=lambda c: [c.command, "-p", "--model", c.model, "--permission-mode", "acceptEdits",
                              "--output-format", "text"],
        text_argv=_claude_text),
    Cli("codex", "codex", "Codex CLI", "npm install -g @openai/codex", ("OPENAI_API_KEY", "CODEX_API_KEY"),
        (".codex",),
        agent_argv=lambda c: [c.command, "exec", "--model", c.model, "--sandbox", "workspace-write", "-"],
        text_argv=_codex_text),
    Cli("gemini-cli", "gemini", "Gemini CLI", "npm install -g @google/gemini-cli",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"), (".gemini", ".config/gcloud"),
        agent_argv=lambda c: [c.command, "--model", c.model, "--approval-mode", "auto_edit",
                              "--prompt", "Carry out the task given on standard input."],
        text_argv=_gemini_text),
    Cli("aider", "aider", "aider", "pip install aider-chat", (), (".aider.conf.yml", ".aider"),
        agent_argv=_aider_agent, task_on_stdin=False),
)}

OLD_NAMES: dict[str, str] = {"claude-cli": "claude-code", "codex-cli": "codex"}
"""Names the text providers had before each CLI got one name; accepted wherever the new one is."""


def cli_name(prefix: str) -> str:
    """The current name for an id's prefix: an old CLI name becomes the new one, anything else stays."""
    return OLD_NAMES.get(prefix, prefix)
