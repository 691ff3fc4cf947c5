"""Typed errors. Each carries the process exit code and a hint saying what to do."""

from __future__ import annotations


class AgentosError(Exception):
    """Base for every error we expect and explain; anything else is a bug (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(AgentosError):
    """Bad input from the user: flags, config, an unknown issue, a missing artifact."""

    exit_code = 2


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


class GatePaused(AgentosError):
    """The run stopped at a human approval gate (resumable)."""

    exit_code = 3


class StageBlocked(AgentosError):
    """A stage ended BLOCK; the run stops and reports the blocker."""

    exit_code = 4


class BudgetExhausted(AgentosError):
    """A budget cap would be crossed by the next call; the run pauses (resumable)."""

    exit_code = 5


class ModelCallError(AgentosError):
    """A model call failed for good (after the one retry layer)."""

    exit_code = 1


class ModelOutputError(ModelCallError):
    """The model answered, but not in the shape we asked for."""


class TestCommandError(UsageError):
    """The configured or detected test command cannot be run."""

    __test__ = False  # not a pytest test class
