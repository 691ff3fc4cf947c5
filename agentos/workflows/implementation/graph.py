"""Implementation: test first, in the issue's worktree, judged by the tests alone.

    prepare → baseline → [agent ⇄ tools | external] → red_check → [agent ⇄ tools | external]
            → test → (fix round → [agent ⇄ tools | external] → test)* → commit

prepare keeps any work an interrupted run left, sets up the test environment and reads the
documents; baseline runs the full suite at the base commit once. In the red phase the
implementer may change only test files, and red_check requires the new tests to fail. In the
green phase each test run is judged (required tests passing, no regression against the
base, and tests changed since the red run still failing on the base code); the best state so
far is kept as a commit and restored when a round makes things worse. commit squashes the rounds into one conventional commit. Each model call is its own
graph step, so a killed run resumes at the call it was making.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph

from agentos.errors import MissingArtifactError
from agentos.llm.base import Message, Request
from agentos.redact import redact
from agentos.repo.git import Git, back_on_branch, checked_out_at, fork_point
from agentos.repo.testcmd import detect_test_command, expand_command, run_tests
from agentos.repo.testreport import TestRun
from agentos.workflows.implementation import docs, external, prompts, report
from agentos.workflows.implementation.environment import TestEnvironment
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.tools import TOOL_SPECS, WorktreeTools, describe, is_test_path
from agentos.workflows.implementation.verdict import Judgement, judge_green, judge_red, same_test, segments
from agentos.workflows.routing import route_next
from agentos.workflows.services import Services

TOOL_REPORT_CHARS = 6000


class Implementer:
    def __init__(self, services: Services):
        self.s = services
        self.cfg = services.config.stages.implementation
        self.uses_cli = external.is_external(self.cfg.implementer)

    # --- the worktree and its tests ------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.s.workspace.path

    @property
    def folder(self) -> Path:
        """Where this stage's records go in the run folder."""
        return self.s.run_dir / "impl"

    def _template(self, state: ImplState) -> str:
        """The test command, unexpanded: config first (so a fix to it applies on resume)."""
        return self.cfg.test_command or state.get("test_template") or detect_test_command(self.root)

    def _environment(self, state: ImplState) -> TestEnvironment:
        return TestEnvironment(self.root, self.cfg, self._template(state))

    def _run_tests(self, state: ImplState, setup: bool = True) -> TestRun:
        env = self._environment(state)
        if setup and (done := env.ensure()):
            self._note(f"test environment set up again ({done.what}, {done.duration_s:.1f}s)")
        command = expand_command(self._template(state), self.root)
        return run_tests(command, self.root, self.cfg.test_timeout_s, env=env.variables())

    def _record_run(self, run: TestRun, label: str, verdict: str | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = redact(json.dumps(dataclasses.asdict(run), indent=2))
        (self.folder / f"tests-{label.replace(' ', '-')}.json").write_text(record)
        self.s.progress.emit("tests_ran", stage="impl", message=f"{label}: {run.summary()}",
                             verdict=verdict or ("PASS" if run.ok else "FAIL"), data={"command": run.command})

    def _note(self, message: str) -> None:
        self.s.progress.emit("note", stage="impl", message=message)

    def _work(self) -> str:
        return "external" if self.uses_cli else "agent"

    @staticmethod
    def _check(state: ImplState) -> str:
        return "red_check" if state["phase"] == "red" else "test"

    # --- prepare and baseline ------------------------------------------------------------

    def prepare(self, state: ImplState) -> ImplState:
        if state.get("phase"):
            return {}
        ws = self.s.workspace
        git = Git(ws.ensure())
        back_on_branch(git, ws.branch)
        notes = self._keep_interrupted_work(git, state["issue_number"])
        fork = fork_point(git, ws.base)
        template = self.cfg.test_command or detect_test_command(self.root)  # exit 2 naming the key
        if done := TestEnvironment(self.root, self.cfg, template).ensure():
            notes.append(f"test environment: {done.what} ({done.duration_s:.1f}s)")
        red_tests = report.red_tests_on_branch(git.messages(f"{fork}..HEAD"))
        return {**self._opening(state, template, red_tests), "fork_sha": fork, "start_sha": git.head(),
                "notes": notes, "issue_title": self.s.forge.get_issue(state["issue_number"]).title,
                "test_template": None if self.cfg.test_command else template, "red_tests": red_tests or [],
                "turns": {}, "step": 0, "red_round": 0, "fix_round": 0, "refused": 0, "rounds": [],
                "best": None, "red_commit": None, **_new_round()}

    def _opening(self, state: ImplState, template: str, red_tests: list[str] | None) -> ImplState:
        """Phase, required tests, allowed paths and (built-in) the first message. A branch whose
        tests were already seen failing (a red commit) starts green, as does human feedback."""
        spec, lld = self._documents(state["issue_number"])
        required = list(dict.fromkeys([*docs.required_tests(spec), *(red_tests or [])]))
        phase = "green" if red_tests is not None or state.get("human_feedback") else "red"
        opening: ImplState = {"phase": phase, "required_tests": required, "allowed_paths": docs.listed_files(lld or "")}
        if not self.uses_cli:
            task = prompts.red_task(required) if phase == "red" else prompts.green_task(required)
            command = expand_command(template, self.root)
            intro = prompts.intro(prompts.documents(spec, lld), command, task, state.get("human_feedback") or [])
            opening["messages"] = [Message(role="user", content=intro).model_dump()]
        return opening

    def _keep_interrupted_work(self, git: Git, issue: int) -> list[str]:
        """Commit what a crashed or failed earlier attempt left uncommitted, so nothing is lost."""
        changed = git.dirty_paths()
        if not changed or not git.commit_all(f"wip: keep uncommitted work of an interrupted run (#{issue})"):
            return []
        note = f"kept uncommitted work of an interrupted run: {', '.join(changed[:10])}"
        self._note(note)
        return [note]

    def _documents(self, issue: int) -> tuple[str, str | None]:
        spec = self.s.workspace.read_doc("spec")
        if spec is None:
            raise MissingArtifactError(f"no implementation spec for issue #{issue} at "
                                       f"{self.s.workspace.doc_path('spec')}", "run the spec stage first")
        lld = self.s.workspace.read_doc("lld")
        return spec[0], lld[0] if lld else None

    def baseline(self, state: ImplState) -> ImplState:
        """The full suite at the base commit, once; and in a green start, the starting state."""
        git, fork = Git(self.root), state["fork_sha"]
        code_moved = [p for p in git.changed_files(fork, "HEAD") if not p.startswith(self.s.config.docs_dir + "/")]
        if code_moved:
            with checked_out_at(git, fork, self.s.workspace.branch):
                base = self._run_tests(state, setup=False)
        else:
            base = self._run_tests(state, setup=False)
        self._record_run(base, "base commit", verdict="BASE")
        updates: ImplState = {"baseline": dataclasses.asdict(base), "next": self._work()}
        if state["phase"] == "green" and code_moved:
            start = self._run_tests(state)
            self._record_run(start, "starting state")
            score = judge_green(start, base, state["required_tests"]).score
            updates["best"] = {"sha": git.head(), "score": list(score), "label": "the starting state",
                               "summary": start.summary()}
        return updates

    # --- the built-in implementer --------------------------------------------------------

    def agent(self, state: ImplState) -> ImplState:
        purpose = f"impl.{state['phase']}"
        turns = {**(state.get("turns") or {})}
        turn = turns.get(purpose, 0)
        turns[purpose] = turn + 1
        request = Request(system=prompts.SYSTEM, messages=[Message.model_validate(m) for m in state["messages"]],
                          tools=TOOL_SPECS, purpose=purpose, turn=turn)
        client = self.s.models.client("impl", self.cfg.implementer, state.get("attempt", 1))
        reply = client.complete(request)
        message = Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls)
        return {"messages": [*state["messages"], message.model_dump()], "turns": turns,
                "step": state.get("step", 0) + 1, "round_steps": state.get("round_steps", 0) + 1,
                "round_tokens": state.get("round_tokens", 0) + reply.usage.input_tokens + reply.usage.output_tokens,
                "round_cost": state.get("round_cost", 0.0) + reply.cost_usd,
                "next": "tools" if reply.tool_calls else self._check(state)}

    def tools(self, state: ImplState) -> ImplState:
        last = Message.model_validate(state["messages"][-1])
        guard = self._red_guard(state) if state["phase"] == "red" else None
        tools = WorktreeTools(self.root, lambda: self._tool_test_report(state), state.get("allowed_paths", []), guard)
        results, finished, refused = [], False, state.get("refused", 0)
        for call in last.tool_calls:
            text, was_refused = tools.execute(call)
            refused += was_refused
            self._log_tool(state, call, text, was_refused)
            results.append(Message(role="tool", tool_call_id=call.id, content=text).model_dump())
            finished |= call.name == "finish"
        limit = None if finished else self._round_limit(state)
        if limit:
            self._note(f"{state['phase']} round ended: {limit}")
        return {"messages": [*state["messages"], *results], "refused": refused,
                "next": self._check(state) if finished or limit else "agent"}

    def _red_guard(self, state: ImplState):
        """In the red phase only test files (and the files the test mapping names) may change."""
        named = {t.split("::", 1)[0] for t in state.get("required_tests", []) if "::" in t}

        def guard(rel: str) -> str | None:
            if is_test_path(rel) or rel in named:
                return None
            return (f"{rel}: tests first: only test files may change until the new tests have been seen "
                    "failing; write the tests, call `finish`, and then make the code change")

        return guard

    def _round_limit(self, state: ImplState) -> str | None:
        if state.get("round_steps", 0) >= self.cfg.max_steps:
            return f"the {self.cfg.max_steps}-step limit"
        if state.get("round_tokens", 0) >= self.cfg.max_tokens_per_round:
            return f"the {self.cfg.max_tokens_per_round:,}-token limit"
        if state.get("round_cost", 0.0) >= self.cfg.max_cost_per_round_usd:
            return f"the ${self.cfg.max_cost_per_round_usd:.2f} cost limit"
        return None

    def _tool_test_report(self, state: ImplState) -> str:
        run = self._run_tests(state)
        return f"{run.summary()}\n{run.output[-TOOL_REPORT_CHARS:]}"

    def _log_tool(self, state: ImplState, call, result: str, refused: bool) -> None:
        record = {"phase": state["phase"], "step": state.get("step", 0), **describe(call),
                  "refused": refused, "result": result[:500]}
        self._append("tool-calls.jsonl", record)
        if refused:
            self._note(f"refused {call.name}: {result}")

    def _append(self, name: str, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / name).open("a", encoding="utf-8") as fh:
            fh.write(redact(json.dumps(record)) + "\n")

    # --- an agent CLI implementer --------------------------------------------------------

    def external(self, state: ImplState) -> ImplState:
        git = Git(self.root)
        start = git.head()
        label = f"{state['phase']}-{state.get('red_round' if state['phase'] == 'red' else 'fix_round', 0)}"
        admin = external.GitAdminGuard(git)
        run = external.run_agent(self.cfg.implementer, self._cli_task(state), self.root,
                                 self.cfg.external_timeout_s, self.folder, label, self._cli_files(state))
        notes = [f"{self.cfg.implementer} {label}: " + ("timed out" if run.timed_out else f"exit {run.exit_code}")
                 + f" after {run.duration_s:.0f}s (its own account is in impl/{label}-output.log)"]
        notes += [f"undid a change the agent made to git's own files: {p}" for p in admin.restore()]
        if git.current_branch() != self.s.workspace.branch:
            return {"outcome": "BLOCK", "exit_reason": "agent_left_branch", "next": "end",
                    "message": f"{self.cfg.implementer} left the worktree off {self.s.workspace.branch}; "
                               f"check {self.root} by hand"}
        notes += [f"removed the agent's own state file {p}" for p in external.remove_scratch(self.root, git)]
        refused = self._undo_refused(git, start, state)
        notes += [f"undid {reason}" for reason in refused.values()]
        for note in notes:
            self._note(note)
        self._append("agent-runs.jsonl", {"label": label, "command": run.command, "exit_code": run.exit_code,
                                          "timed_out": run.timed_out, "duration_s": run.duration_s,
                                          "changed": git.changed_since(start), "refused": refused})
        return {"notes": [*state.get("notes", []), *notes], "refused": state.get("refused", 0) + len(refused),
                "next": self._check(state)}

    def _undo_refused(self, git: Git, start: str, state: ImplState) -> dict[str, str]:
        guard = self._red_guard(state) if state["phase"] == "red" else None
        refused = external.refused_changes(self.root, git.changed_since(start), state.get("allowed_paths", []), guard)
        external.put_back(git, self.root, start, list(refused))
        return refused

    def _cli_task(self, state: ImplState) -> str:
        spec, lld = self._documents(state["issue_number"])
        required = state.get("required_tests", [])
        if state.get("feedback"):
            instructions = state["feedback"]
        elif state["phase"] == "red":
            instructions = prompts.red_task(required)
        else:
            instructions = prompts.intro("", "", prompts.green_task(required), state.get("human_feedback") or []).strip()
        command = expand_command(self._template(state), self.root)
        return prompts.cli_task(prompts.documents(spec, lld), command, instructions)

    def _cli_files(self, state: ImplState) -> list[str]:
        """Files to hand the CLI up front (aider edits only files it was given)."""
        named = [t.split("::", 1)[0] for t in state.get("required_tests", []) if "::" in t]
        files = [*named, *state.get("allowed_paths", [])]
        if state["phase"] == "red":
            files = [f for f in files if is_test_path(f) or f in named]
        return list(dict.fromkeys(files))

    def _say(self, state: ImplState, text: str) -> ImplState:
        """Give the implementer feedback: a message in the conversation, or the CLI's next task."""
        if self.uses_cli:
            return {"feedback": text}
        return {"messages": [*state["messages"], Message(role="user", content=text).model_dump()]}

    # --- red: the tests written first must fail ------------------------------------------

    def red_check(self, state: ImplState) -> ImplState:
        run = self._run_tests(state)
        base = TestRun(**state["baseline"])
        verdict = judge_red(run, base, state["required_tests"], self._existed_at_base(state, base))
        self._record_run(run, f"tests first {state.get('red_round', 0)}", "RED" if verdict.ok else "NOT RED")
        if verdict.ok:
            return self._red_confirmed(state, run, base, verdict)
        tries = state.get("red_round", 0) + 1
        if tries > self.cfg.max_test_retries:
            return self._red_blocked(state, run, verdict, tries)
        return {**self._say(state, prompts.red_rejected(verdict, run.output)), "red_round": tries,
                **_new_round(), "test_run": dataclasses.asdict(run), "next": self._work()}

    def _existed_at_base(self, state: ImplState, base: TestRun):
        """Whether a required test is old: it ran at the base, or its name is in the base tree."""
        names = [segments(t)[-1] for t in state["required_tests"] if segments(t)]
        prose = ["**/*.md", "**/*.rst", "**/*.txt", f"{self.s.config.docs_dir}/**"]  # mentions, not tests
        in_base_tree = Git(self.root).words_in(state["fork_sha"], names, exclude=prose)

        def existed(test: str) -> bool:
            ran = any(same_test(test, t) for t in [*base.passed_tests, *base.failed_tests])
            return ran or (bool(segments(test)) and segments(test)[-1] in in_base_tree)

        return existed

    def _red_confirmed(self, state: ImplState, run: TestRun, base: TestRun, verdict: Judgement) -> ImplState:
        git = Git(self.root)
        title = state["issue_title"]
        # Even with nothing new to commit (the tests came with kept work) the commit is the record.
        sha = git.commit_all(report.red_message(title, state["issue_number"], verdict), allow_empty=True)
        required = list(dict.fromkeys([*state["required_tests"], *verdict.new_tests]))
        score = judge_green(run, base, required).score
        best = {"sha": sha, "score": list(score), "label": "the tests-first commit", "summary": run.summary()}
        text = prompts.red_confirmed(verdict, run.summary(), required)
        rounds = [*state.get("rounds", []), {"label": "tests first", "summary": run.summary(), "action": "committed"}]
        return {**self._say(state, text), "phase": "green", "red_commit": sha, "red_tests": verdict.new_tests,
                "not_testing": verdict.not_testing, "required_tests": required, "best": best, "rounds": rounds,
                "test_run": dataclasses.asdict(run), **_new_round(), "next": self._work()}

    def _red_blocked(self, state: ImplState, run: TestRun, verdict: Judgement, tries: int) -> ImplState:
        git = Git(self.root)
        patch = self.folder / "tests-first-rejected.diff"
        self.folder.mkdir(parents=True, exist_ok=True)
        git.run("add", "-A")
        patch.write_text(redact(git.run("diff", "--cached", "HEAD")) + "\n")
        git.restore("HEAD")
        message = (f"the tests written first do not fail as they should after {tries} tr{'y' if tries == 1 else 'ies'}: "
                   f"{'; '.join(verdict.problems[:3])} (their diff is kept in {patch})")
        return self._finish(state, "BLOCK", "red_not_failing", message, run, verdict)

    # --- green: judged by the tests, best state kept -------------------------------------

    def test(self, state: ImplState) -> ImplState:
        run = self._run_tests(state)
        base = TestRun(**state["baseline"])
        verdict = judge_green(run, base, state["required_tests"])
        rounds_done = state.get("fix_round", 0)
        label = "implementation" if rounds_done == 0 else f"fix round {rounds_done}"
        self._record_run(run, label, "PASS" if verdict.ok else "FAIL")
        if verdict.ok:
            verdict = self._still_red(state, verdict, base)
        best, kept = self._keep_or_roll_back(state, run, verdict, label) if not verdict.ok else (state.get("best"), True)
        rounds = [*state.get("rounds", []), {"label": label, "summary": run.summary(),
                                              "action": "kept" if kept else f"rolled back to {best['label']}"}]
        common = {"best": best, "rounds": rounds, "test_run": dataclasses.asdict(run),
                  "judgement": dataclasses.asdict(verdict)}
        if verdict.ok:
            return {**common, "next": "commit"}
        if rounds_done >= self.cfg.max_test_retries:
            return {**common, **self._tests_blocked({**state, **common}, run, verdict)}
        worse = None if kept else (f"That round made things worse than {best['label']} ({best['summary']}), so the "
                                   "worktree was put back to that state. Try a different approach.")
        return {**common, **self._say(state, prompts.fix_round(verdict, run.output, worse)),
                "fix_round": rounds_done + 1, **_new_round(), "next": self._work()}

    def _still_red(self, state: ImplState, verdict: Judgement, base: TestRun) -> Judgement:
        """If test files changed after the tests were seen failing, the tests as they are now
        must still fail on the base code: passing tests weakened until they pass do not count."""
        git = Git(self.root)
        since = state.get("red_commit") or state["start_sha"]
        changed = [p for p in git.changed_since(since) if is_test_path(p) and (self.root / p).is_file()]
        if not changed or not state.get("red_tests"):
            return verdict
        head = git.commit_all(report.wip_message(state["issue_number"], "tests changed", "to check them")) or git.head()
        with checked_out_at(git, state["fork_sha"], self.s.workspace.branch):
            git.checkout_paths(head, changed)
            again = self._run_tests(state, setup=False)
        red = judge_red(again, base, state["red_tests"], lambda _test: False)
        self._record_run(again, "tests first again", "RED" if red.ok else "NOT RED")
        if red.ok:
            return verdict
        problems = [f"the tests were changed after they were seen failing, and now: {p}" for p in red.problems]
        return dataclasses.replace(verdict, ok=False, problems=[*verdict.problems, *problems],
                                   score=(0, *verdict.score[1:]))

    def _keep_or_roll_back(self, state: ImplState, run: TestRun, verdict: Judgement, label: str):
        """(best state, whether this one is it): commit a state at least as good, else restore the best."""
        git, best = Git(self.root), state.get("best")
        if best is None or tuple(verdict.score) >= tuple(best["score"]):
            sha = git.commit_all(report.wip_message(state["issue_number"], label, run.summary())) or git.head()
            return {"sha": sha, "score": list(verdict.score), "label": label, "summary": run.summary()}, True
        git.restore(best["sha"])
        self._note(f"{label} made things worse ({run.summary()}); restored {best['label']} ({best['summary']})")
        return best, False

    def _tests_blocked(self, state: ImplState, run: TestRun, verdict: Judgement) -> ImplState:
        failing = [t for t, s in verdict.required.items() if s != "passed"] + verdict.regressions
        shown = ", ".join(failing[:10]) or "; ".join(verdict.problems[:3]) or run.summary()
        message = f"tests still failing after {self.cfg.max_test_retries} fix round(s): {shown}"
        if verdict.preexisting:
            message += f" (already failing at the base commit, not blamed: {', '.join(verdict.preexisting[:5])})"
        return self._finish(state, "BLOCK", "tests_failing", message, run, verdict)

    def commit(self, state: ImplState) -> ImplState:
        git, issue = Git(self.root), state["issue_number"]
        squash_from = state.get("red_commit") or state["start_sha"]
        if git.head() != squash_from:
            git.soft_reset(squash_from)
        verdict = Judgement(**state["judgement"])
        title = state["issue_title"]
        brief = self.s.workspace.read_doc("triage")
        run = {**state["test_run"], "command": state["test_run"]["command"].replace(f"{self.root}/", "")}
        message = report.final_message(docs.commit_type(brief[0] if brief else None), title, issue, run, verdict)
        sha = git.commit_all(message) or git.head()
        diff = git.run("diff", f"{state['fork_sha']}..{sha}")
        changed = len(re.findall(r"(?m)^diff --git ", diff))
        summary = f"tests pass ({TestRun(**state['test_run']).summary()}); {changed} file(s) changed"
        finished = self._finish(state, "PASS", "tests_pass", summary, TestRun(**state["test_run"]), verdict, sha, diff)
        return {**finished, "commit": sha}

    def _finish(self, state: ImplState, outcome: str, reason: str, message: str, run: TestRun,
                verdict: Judgement, sha: str | None = None, diff: str | None = None) -> ImplState:
        """End the stage: the test report and the final diff go to the run folder for the PR step."""
        git = Git(self.root)
        sha = sha or git.head()
        diff = diff if diff is not None else git.run("diff", f"{state['fork_sha']}..{sha}")
        record = {"issue": state["issue_number"], "outcome": outcome, "exit_reason": reason, "message": message,
                  "fork_sha": state["fork_sha"], "commit": sha,
                  "baseline": _run_record(TestRun(**state["baseline"])) if state.get("baseline") else None,
                  "final": _run_record(run), "required": verdict.required, "regressions": verdict.regressions,
                  "preexisting": verdict.preexisting, "red_tests": state.get("red_tests", []),
                  "not_testing": state.get("not_testing", []), "rounds": state.get("rounds", []),
                  "notes": state.get("notes", [])}
        report.write_report(self.folder, record, diff)
        self.s.progress.emit("artifact_written", stage="impl", data={"path": str(self.folder / "test-report.md")})
        return {"outcome": outcome, "exit_reason": reason, "message": message, "test_run": dataclasses.asdict(run),
                "next": "end"}


def _new_round() -> dict[str, Any]:
    return {"round_steps": 0, "round_tokens": 0, "round_cost": 0.0}


def _run_record(run: TestRun) -> dict[str, Any]:
    return {"command": run.command, "summary": run.summary(), "passed": run.passed, "failed": run.failed,
            "errors": run.errors, "failed_tests": run.failed_tests, "timed_out": run.timed_out}


def build_graph(services: Services, checkpointer=None):
    impl = Implementer(services)
    g = StateGraph(ImplState)
    for name in ("prepare", "baseline", "agent", "tools", "external", "red_check", "test", "commit"):
        g.add_node(name, getattr(impl, name))
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "baseline")
    g.add_conditional_edges("baseline", route_next, ["agent", "external"])
    g.add_conditional_edges("agent", route_next, ["tools", "red_check", "test"])
    g.add_conditional_edges("tools", route_next, ["agent", "red_check", "test"])
    g.add_conditional_edges("external", route_next, ["red_check", "test", END])
    g.add_conditional_edges("red_check", route_next, ["agent", "external", END])
    g.add_conditional_edges("test", route_next, ["agent", "external", "commit", END])
    g.add_edge("commit", END)
    return g.compile(checkpointer=checkpointer, name="implementation_workflow")
