"""The opt-out (`sandbox: off`): commands run as they are, with agentos's environment, files
and network. Chosen explicitly, warned about on every run and recorded in the PR body."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from agentos.sandbox.policy import Launch, Policy

WARNING = ("sandbox: off - code the model wrote runs with your environment (its secrets), your files and the "
           "network")


class Off:
    name = "off"

    def available(self) -> str | None:
        return None

    def limits_note(self) -> str:
        return "none but wall time"

    @contextlib.contextmanager
    def launch(self, command: str | list[str], cwd: Path, policy: Policy, ours: Mapping[str, str],
               set_for_command: Mapping[str, str]) -> Iterator[Launch]:
        """The command as it is, with our whole environment (the runner's behaviour without a sandbox)."""
        yield command, {**ours, **set_for_command}
