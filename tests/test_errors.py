"""Exit codes come from one table, and each run status maps onto it."""

from __future__ import annotations

from agentos import errors
from agentos.errors import ExitCode


def test_each_run_status_has_its_exit_code():
    assert {s: ExitCode.for_status(s) for s in ("running", "paused", "blocked", "done", "budget", "failed")} == {
        "running": 1, "paused": 3, "blocked": 4, "done": 0, "budget": 5, "failed": 1}


def test_error_classes_exit_with_codes_from_the_table():
    codes = {cls.__name__: cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.AgentosError)}
    assert set(codes.values()) <= set(ExitCode)
    assert (codes["UsageError"], codes["ProviderConfigError"], codes["BudgetExhausted"], codes["ModelCallError"]) == (2, 2, 5, 1)
