"""The implementation stage's worktree: its git, its test runs, and the records of both.

Every node of the stage reaches the worktree through one StageWorktree: the Git it uses is the
workspace's, test runs go through its pinned command and environment, and what happened is
written to the run folder's `impl/` (test runs, tool calls, agent runs, the final report).
"""

from __future__ import annotations

import dataclasses
import json
from functools import cached_property
from pathlib import Path
from typing import Any

from agentos.errors import MissingArtifactError
from agentos.files import append_line
from agentos.llm.base import Message
from agentos.redact import redact
from agentos.repo.git import Checkout
from agentos.repo.testcmd import detect_test_command, expand_command, run_tests
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation import external, report
from agentos.workflows.implementation.environment import TestEnvironment
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.verdict import Judgement
from agentos.workflows.prefix import RunPrefix
from agentos.workflows.services import Services


class StageWorktree:
    """The issue's worktree as a stage that changes code uses it (the implementation, and the code
    review's fix rounds), bound to the run's services. The implementer's settings are the
    implementation stage's in both."""

    def __init__(self, services: Services, stage: str = "impl"):
        self.services = services
        self.stage = stage
        """The stage the work is billed and reported to (impl | review)."""
        self.cfg = services.config.stages.implementation
        self.workspace = services.workspace
        self.root: Path = services.workspace.path
        self.folder: Path = services.run_dir / stage
        """Where this stage's records go in the run folder."""

    @property
    def git(self) -> Checkout:
        return self.workspace.git

    @property
    def uses_cli(self) -> bool:
        """Whether the implementer is an agent CLI rather than the built-in tool loop."""
        return external.is_external(self.cfg.implementer)

    # --- tests --------------------------------------------------------------------------

    def template(self, state: ImplState) -> str:
        """The test command, unexpanded: config first (so a fix to it applies on resume)."""
        return self.cfg.test_command or state.get("test_template") or detect_test_command(self.root)

    def test_command(self, template: str) -> str:
        return expand_command(template, self.root)

    def environment(self, template: str) -> TestEnvironment:
        return TestEnvironment(self.root, self.cfg, template, sandbox=self.services.sandbox)

    def run_tests(self, state: ImplState, setup: bool = True) -> TestRun:
        """The whole suite, in the worktree's test environment (set up again when it went stale)."""
        return self.run_suite(self.template(state), setup)

    def run_suite(self, template: str, setup: bool = True) -> TestRun:
        """The whole suite with the test command `template`, in its environment."""
        env = self.environment(template)
        if setup and (done := env.ensure()):
            self.note(f"test environment set up again ({done.what}, {done.duration_s:.1f}s)")
        return run_tests(self.test_command(template), self.root, self.cfg.test_timeout_s, env=env.variables(),
                         confine=self.services.sandbox.tests(self.root))

    # --- records ------------------------------------------------------------------------

    def record_run(self, run: TestRun, label: str, verdict: str | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = redact(json.dumps(dataclasses.asdict(run), indent=2))
        (self.folder / f"tests-{label.replace(' ', '-')}.json").write_text(record)
        self.services.progress.emit("tests_ran", stage=self.stage, message=f"{label}: {run.summary()}",
                                    verdict=verdict or ("PASS" if run.ok else "FAIL"),
                                    data={"command": run.command})

    def note(self, message: str) -> None:
        self.services.progress.emit("note", stage=self.stage, message=message)

    def append(self, name: str, record: dict[str, Any]) -> None:
        """One JSON line more in the stage's run folder (`impl/<name>`), secrets redacted."""
        append_line(self.folder / name, redact(json.dumps(record)))

    @cached_property
    def shared_prefix(self) -> list[Message]:
        """The run's shared prompt prefix, which every implementer call starts with (read once)."""
        return RunPrefix(self.services).messages("implementation")

    def documents(self, issue: int) -> tuple[str, str | None]:
        """(spec, LLD or None): what the implementer works from."""
        spec = self.workspace.read_doc("spec")
        if spec is None:
            raise MissingArtifactError(f"no implementation spec for issue #{issue} at "
                                       f"{self.workspace.doc_path('spec')}", "run the spec stage first")
        lld = self.workspace.read_doc("lld")
        return spec[0], lld[0] if lld else None

    def finish(self, state: ImplState, outcome: str, reason: str, message: str, run: TestRun,
               verdict: Judgement, sha: str | None = None, diff: str | None = None,
               last_round: dict[str, Any] | None = None) -> ImplState:
        """End the stage: the test report and the final diff go to the run folder for the PR step.
        `last_round` is a round judged by the node that ends the stage, not yet in `state`."""
        sha = sha or self.git.head()
        diff = diff if diff is not None else self.git.run("diff", f"{state['fork_sha']}..{sha}")
        record = {"issue": state["issue_number"], "outcome": outcome, "exit_reason": reason, "message": message,
                  "fork_sha": state["fork_sha"], "commit": sha,
                  "baseline": _run_record(TestRun(**state["baseline"])) if state.get("baseline") else None,
                  "final": _run_record(run), "required": verdict.required, "regressions": verdict.regressions,
                  "preexisting": verdict.preexisting, "red_tests": state.get("red_tests", []),
                  "not_testing": state.get("not_testing", []),
                  "rounds": [*state.get("rounds", []), *([last_round] if last_round else [])],
                  "notes": state.get("notes", [])}
        report.write_report(self.folder, record, diff)
        self.services.progress.emit("artifact_written", stage=self.stage,
                                    data={"path": str(self.folder / "test-report.md")})
        return {"outcome": outcome, "exit_reason": reason, "message": message, "test_run": dataclasses.asdict(run)}


def _run_record(run: TestRun) -> dict[str, Any]:
    return {"command": run.command, "summary": run.summary(), "passed": run.passed, "failed": run.failed,
            "errors": run.errors, "failed_tests": run.failed_tests, "timed_out": run.timed_out}
