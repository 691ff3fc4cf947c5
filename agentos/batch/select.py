"""Which issues a batch takes (by number, by label, or every open one) and in which order."""

from __future__ import annotations

import re

from agentos.config import BatchConfig
from agentos.errors import AgentosError, UsageError
from agentos.forge.base import Forge, Issue

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
MAX_RANGE = 10_000


def parse_numbers(spec: str) -> list[int]:
    """`3,5,8-12` → [3, 5, 8, 9, 10, 11, 12] (in order, each once)."""
    numbers: list[int] = []
    for part in (p.strip() for p in spec.split(",")):
        match = _RANGE.match(part)
        if not match:
            raise UsageError(f"--issues {spec!r}: {part!r} is not a number or a range",
                             "give numbers and ranges separated by commas, e.g. --issues 3,5,8-12")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low or high - low > MAX_RANGE:
            raise UsageError(f"--issues {spec!r}: the range {part} is empty or too long",
                             "write ranges low-high, e.g. 8-12")
        numbers += [n for n in range(low, high + 1) if n not in numbers]
    return numbers


def select(forge: Forge, numbers: list[int] | None, label: str | None) -> list[Issue]:
    """The issues asked for; every one missing, closed or mistyped is named at once (exit 2)."""
    if numbers:
        return _by_number(forge, numbers)
    found = forge.open_issues(label)
    if not found:
        what = f"no open issue has the label {label!r}" if label else "there are no open issues"
        raise UsageError(f"{what} on {forge.summary}",
                         "check the label's spelling, or pick issues with --issues 3,5,8-12" if label
                         else "create one, or pick issues with --issues")
    return found


def _by_number(forge: Forge, numbers: list[int]) -> list[Issue]:
    issues, problems = [], []
    for n in numbers:
        try:
            issue = forge.get_issue(n)
        except AgentosError as exc:
            problems.append(f"#{n}: {exc.message}")
            continue
        if issue.state == "closed":
            problems.append(f"#{n}: closed")
        else:
            issues.append(issue)
    if problems:
        raise UsageError("issues that cannot be run:\n  " + "\n  ".join(problems),
                         "leave them out of --issues (a closed one: reopen it first)")
    return issues


def prioritize(issues: list[Issue], cfg: BatchConfig) -> list[Issue]:
    """Issues with the first priority label first, then the second's, ..., then the rest; within
    each, oldest (lowest number) first unless `oldest_first` is off."""
    def rank(issue: Issue) -> tuple[int, int]:
        label = next((i for i, name in enumerate(cfg.priority_labels) if name in issue.labels),
                     len(cfg.priority_labels))
        return label, issue.number if cfg.oldest_first else -issue.number

    return sorted(issues, key=rank)
