"""State of the code review: the implementation's state (its fix rounds run on the same green
machinery) plus the review rounds.

History and the kept adversarial tests only grow (a node returns its new entries)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from agentos.workflows.implementation.state import ImplState
from agentos.workflows.reducers import append


class ReviewState(ImplState, total=False):
    """exit_reason: approved | blocked | max_rounds | stagnation | tests_failing (a fix round's
    tests never passed) | agent_left_branch."""

    review_round: int
    """Reviews done so far."""
    review: dict[str, Any] | None
    """The last verdict (CodeReview as a dict)."""
    history: Annotated[list[dict[str, Any]], append]
    """One entry per review: round, verdict, summary, findings, adversarial tests and their results."""
    open_findings: list[dict[str, Any]]
    """What the next fix round must address: findings, failing adversarial tests, human feedback."""
    claimed: list[dict[str, Any]]
    """Findings a fix round addressed with the tests passing (one raised again = stagnation)."""
    adversarial: list[dict[str, Any]]
    """The last round's adversarial tests: {path, expects, status, tests, output, reason}."""
    broken_returned: bool
    """A test that did not run has gone back to the reviewer (that happens once)."""
    adversarial_log: Annotated[list[dict[str, Any]], append]
    """Every adversarial test and what became of it: {round, path, status, reason, tests}."""
    kept_tests: list[dict[str, Any]]
    """On approval, the adversarial tests kept on the branch (all pass): {path, round, tests}."""
    next_step: Literal["tests", "fix", "review", "approve", "end"]
    """Where the loop goes after a review (its tests first, when it wrote some)."""
