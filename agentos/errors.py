"""Typed errors, and the process exit codes. Each error carries its exit code and a hint."""

from __future__ import annotations

import errno
import os
from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes, the one table. A run's status of the same name exits with it."""

    DONE = 0
    INTERNAL = 1
    """A bug, or an operation that failed for good (the run record says "failed")."""
    USAGE = 2
    """Bad input: flags, config, an unknown issue, a model that is not ready."""
    PAUSED = 3
    """Waiting at a gate for a human decision (resumable)."""
    BLOCKED = 4
    """A stage ended BLOCK; the run stopped and reports the blocker."""
    BUDGET = 5
    """A budget cap would be crossed by the next call (resumable)."""
    INTERRUPTED = 130
    """Ctrl-C: 128 + SIGINT, the shell's convention."""
    BROKEN_PIPE = 141
    """The reader of our output went away (`| head`): 128 + SIGPIPE, as git does."""
    TERMINATED = 143
    """SIGTERM (`kill PID`, a service manager stopping us), handled as Ctrl-C is: 128 + SIGTERM."""

    @classmethod
    def for_status(cls, status: str) -> ExitCode:
        """The exit code of a run that ended with this status ("failed" and unknown ones: INTERNAL)."""
        return cls.__members__.get(status.upper(), cls.INTERNAL)


class AgentosError(Exception):
    """Base for every error we expect and explain; anything else is a bug (exit 1)."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread, so everything that cleans up after Ctrl-C
    (ending child process groups, marking the run interrupted) does so after SIGTERM too."""


class UsageError(AgentosError):
    """Bad input from the user: flags, config, an unknown issue, a missing artifact."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    pass


class NotARepositoryError(UsageError):
    pass


class UnknownIssueError(UsageError):
    pass


class MissingArtifactError(UsageError):
    pass


class ProviderConfigError(UsageError):
    """A model id, key or provider setting that cannot work."""


class StateDamagedError(UsageError):
    """The checkpoint database cannot be read: truncated, overwritten, not a database."""


class BudgetExhausted(AgentosError):
    """A budget cap would be crossed by the next call; the run pauses (resumable)."""

    exit_code = ExitCode.BUDGET


class ModelCallError(AgentosError):
    """A model call failed for good (after the one retry layer)."""


class ModelOutputError(ModelCallError):
    """The model answered, but not in the shape we asked for."""


class TestCommandError(UsageError):
    """The configured or detected test command cannot be run."""

    __test__ = False  # not a pytest test class


_DISK_CAUSES = {
    errno.ENOSPC: ("no space left on the device", "free space there (df -h shows how much), then run the same "
                   "command again: the run continues where it stopped"),
    errno.EDQUOT: ("the disk quota is used up", "free space within your quota, then run the same command again"),
    errno.EROFS: ("the file system is read-only", "agentos keeps its state in the repository's .agentos/ folder: "
                  "run it where the repository is writable"),
    errno.EACCES: ("permission denied", "run as a user with access to it, or give yourself the permission "
                   "(ls -ld shows who has it)"),
    errno.EPERM: ("operation not permitted", "run as a user with access to it, or give yourself the permission"),
}


class DiskError(UsageError):
    """The disk refused what agentos had to write or read: full, read-only, or not the user's to write."""

    @classmethod
    def of(cls, exc: OSError, path: object = None) -> DiskError | None:
        """The error to show for `exc`, or None when it is not a disk's refusal."""
        if exc.errno not in _DISK_CAUSES:
            return None
        cause, hint = _DISK_CAUSES[exc.errno]
        where = path or exc.filename
        return cls(f"{cause} ({errno.errorcode[exc.errno]}){f': {os.fsdecode(where)}' if where else ''}", hint)
