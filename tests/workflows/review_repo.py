"""The calc target (impl_repo) with a scripted code reviewer: the implementation passes its
tests, then the review stage runs on it. Reviewer answers are shaped as real models give them:
prose around a fenced JSON verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.sample import edit_config
from tests.workflows.impl_repo import BUGGY_LINE, FINISH, WRITE_RED_TESTS, make_target, replace, script

FIXED = "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))"
DOCSTRING = '    """Limit x to the range [lo, hi]."""'
NAN_TEST = '''import math

import pytest

from calc.ops import clamp


def test_clamp_rejects_nan():
    with pytest.raises(ValueError):
        clamp(math.nan, 0, 10)
'''
NAN_CHECK = "    if x != x:\n        raise ValueError('x is NaN')\n" + FIXED


def target(root: Path, review: dict[str, Any] | None = None, implementation: dict[str, Any] | None = None,
           **config: Any) -> Path:
    """The calc repository, implemented by a scripted implementer, reviewed by a scripted reviewer."""
    repo = make_target(root, implementation=implementation)
    script(repo, red=[WRITE_RED_TESTS, FINISH], green=[replace(BUGGY_LINE, FIXED), FINISH])
    edit_config(repo, stages={"review": review or {}}, **config)
    return repo


def verdict(verdict: str, summary: str, findings: list[dict] | None = None, tests: list[dict] | None = None) -> dict:
    """A scripted reviewer reply: prose, the verdict in a ```json fence, more prose."""
    body = {"verdict": verdict, "summary": summary, "findings": findings or [], "adversarial_tests": tests or []}
    return {"text": f"I read the diff against the spec and ran through the edge cases.\n\n```json\n"
                    f"{json.dumps(body, indent=2)}\n```\n\nThat is my review."}


def finding(id: str, text: str, severity: str = "major") -> dict:
    return {"id": id, "severity": severity, "file": "calc/ops.py", "lines": "5-9", "spec_item": "AC1", "text": text}


def reviewer(repo: Path, *replies: dict) -> None:
    path = repo / ".agentos" / "scripted" / "reviewer.yaml"
    path.write_text(yaml.safe_dump({"replies": {"review.review": list(replies)}}, sort_keys=False))


def fixes(repo: Path, *replies: dict) -> None:
    """The implementer's replies in the code review's fix rounds (purpose review.green)."""
    path = repo / ".agentos" / "scripted" / "implementer.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["replies"]["review.green"] = list(replies)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def calls(repo: Path) -> list[dict]:
    return [json.loads(line) for log in sorted((repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
            for line in log.read_text().splitlines()]


def sent(repo: Path, purpose: str) -> list[str]:
    """Every message of every request for `purpose`, joined per request."""
    return ["\n".join(m.get("content") or "" for m in c["messages"]) for c in calls(repo) if c["purpose"] == purpose]


def review_folder(repo: Path) -> Path:
    return sorted((repo / ".agentos" / "runs").glob("*/review"))[-1]


def docstring_fix(text: str = "Raises ValueError when lo > hi.") -> dict:
    return replace(DOCSTRING, f'    """Limit x to the range [lo, hi]. {text}"""')
