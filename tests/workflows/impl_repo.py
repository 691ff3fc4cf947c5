"""Small real target repositories for the implementation stage's tests.

`make_target` writes a tiny Python package (`calc`) with a real bug in `clamp`, commits it with
approved design documents on `main`, files issue #1 in the local forge, and points the
implementer at a scripted model whose replies the test provides per phase.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from agentos.forge.local import LocalForge
from agentos.workflows.orchestrator.driver import RunResult
from agentos.workflows.orchestrator.run import run_workflow
from agentos.workflows.orchestrator.session import RunOptions
from tests.helpers.repos import make_repo

OPS = '''def add(a, b):
    return a + b


def clamp(x, lo, hi):
    """Limit x to the range [lo, hi]."""
    return max(lo, x)
'''
TESTS = '''from calc.ops import add, clamp


def test_add():
    assert add(2, 3) == 5


def test_clamp_low():
    assert clamp(-1, 0, 10) == 0
'''
FILES = {"calc/__init__.py": "", "calc/ops.py": OPS, "tests/test_ops.py": TESTS,
         "README.md": "# calc\n"}
BUGGY_LINE = "    return max(lo, x)"
NEW_TESTS = ["tests/test_ops.py::test_clamp_high", "tests/test_ops.py::test_clamp_rejects_swapped_bounds"]
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"

RED_TESTS = TESTS + '''

def test_clamp_high():
    assert clamp(11, 0, 10) == 10


def test_clamp_rejects_swapped_bounds():
    import pytest

    with pytest.raises(ValueError):
        clamp(5, 10, 0)
'''


def spec(tests: list[str]) -> str:
    rows = "\n".join(f"| AC{i} | {t} |" for i, t in enumerate(tests, 1))
    return ("# Implementation spec: clamp ignores its upper bound\n\n## Overview\nMake clamp honour hi.\n\n"
            "## Changes\n\n### calc/ops.py\nUse min and max.\n\n## Function specifications\n"
            "`clamp(x, lo, hi)`\n\n## Test mapping\n| Criterion | Test |\n|---|---|\n" + rows
            + "\n\n## Dependencies\nNone.\n\n## Review log\nStatus: APPROVED after 1 review round(s)\n")


def lld(files: list[str]) -> str:
    rows = "\n".join(f"| {f} | modify | the fix |" for f in files)
    return ("# LLD: clamp\n\n## Files changed\n| Path | Change | Why |\n|---|---|---|\n" + rows
            + "\n\n## Review log\nStatus: APPROVED after 1 review round(s)\n")


APPROVING_REVIEWER = {"replies": {"review.review": [
    {"data": {"verdict": "APPROVED", "summary": "Does what the spec asks.", "findings": []}}] * 3}}
"""The code review after the implementation: approves (tests of the review stage script their own)."""

BRIEF = "# Brief\n\n## Kind\nbug\n\n## Review log\nStatus: APPROVED after 1 review round(s)\n"


def make_target(root: Path, *, files: dict[str, str] | None = None, tests: list[str] | None = None,
                lld_files: list[str] | None = None, implementation: dict[str, Any] | None = None,
                sandbox: Any = None) -> Path:
    """A git repository on `main` with the package, approved docs, issue #1 and a config
    (`sandbox`, when given, is the config's sandbox section)."""
    docs = {"docs/agentos/issue-1/brief.md": BRIEF,
            "docs/agentos/issue-1/lld.md": lld(lld_files or ["calc/ops.py", "tests/test_ops.py"]),
            "docs/agentos/issue-1/spec.md": spec(NEW_TESTS if tests is None else tests)}
    make_repo(root, {**FILES, **(files or {}), **docs}, message="calc")
    impl = {"implementer": "scripted:.agentos/scripted/implementer.yaml", "test_command": PYTEST,
            "python_venv": False, "max_test_retries": 2, "test_timeout_s": 60, **(implementation or {})}
    review = {"reviewer": "scripted:.agentos/scripted/reviewer.yaml"}
    config = {"orchestrator": {"stages": {"implementation": impl, "review": review}, "gates": {"before_pr": False},
                               **({"sandbox": sandbox} if sandbox is not None else {})}}
    (root / ".agentos" / "scripted").mkdir(parents=True)
    (root / ".agentos" / "scripted" / "reviewer.yaml").write_text(yaml.safe_dump(APPROVING_REVIEWER))
    (root / ".agentos" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    LocalForge(root).create_issue("clamp ignores its upper bound", "clamp(11, 0, 10) returns 11.", ["bug"])
    return root


def script(root: Path, red: list[dict], green: list[dict] | None = None) -> None:
    replies = {"impl.red": red, "impl.green": green or []}
    path = root / ".agentos" / "scripted" / "implementer.yaml"
    path.write_text(yaml.safe_dump({"replies": replies}, sort_keys=False))


def call(name: str, **arguments: Any) -> dict:
    return {"name": name, "arguments": arguments}


def reply(*calls: dict, text: str = "") -> dict:
    return {"text": text, "tool_calls": list(calls)}


FINISH = reply(call("finish", summary="done"))
WRITE_RED_TESTS = reply(call("write_file", path="tests/test_ops.py", content=RED_TESTS))


def replace(old: str, new: str, path: str = "calc/ops.py") -> dict:
    return reply(call("replace_in_file", path=path, old=old, new=new))


def implement(root: Path) -> RunResult:
    """The implementation workflow on its own (`agentos implement --issue 1`)."""
    return run_workflow("impl", RunOptions(issue=1, repo=root, plain=True))


def run_folder(root: Path) -> Path:
    [folder] = sorted((root / ".agentos" / "runs").glob("*/impl"))[-1:]
    return folder


def report(root: Path) -> dict:
    return json.loads((run_folder(root) / "test-report.json").read_text())


def tool_calls(root: Path) -> list[dict]:
    return [json.loads(line) for line in (run_folder(root) / "tool-calls.jsonl").read_text().splitlines()]


def prompts_sent(root: Path, purpose: str) -> list[str]:
    """The last message of every request the scripted implementer received for `purpose`."""
    logs = sorted((root / ".agentos" / "runs").glob("*/scripted-calls.jsonl"))
    calls = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    return [c["messages"][-1].get("content", "") for c in calls if c["purpose"] == purpose]


def worktree(root: Path) -> Path:
    return root / ".agentos" / "worktrees" / "1"
