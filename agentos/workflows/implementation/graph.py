"""Implementation: a tool-calling implementer writes code and tests in the issue's worktree.

The verdict is measured, never claimed: the stage runs the tests itself after the model says
it is finished, and passes only when they pass. Each model call is its own graph step, so a
killed run resumes at the call it was making.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess

from langgraph.graph import END, START, StateGraph

from agentos.errors import MissingArtifactError, TestCommandError
from agentos.llm.base import Message, Request
from agentos.repo.tests import TestRun, detect_test_command, expand_command, run_tests
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.tools import TOOL_SPECS, WorktreeTools, describe
from agentos.workflows.prompts import UNTRUSTED_NOTE, data_block
from agentos.workflows.routing import route_next
from agentos.workflows.services import Services

SYSTEM = (
    "You are implementing an approved implementation spec in a git repository, using tools. "
    "Write the tests named in the spec's test mapping and the code that makes them pass. "
    "Paths are relative to the repository root. When done, call `finish`; the tests are then "
    "run and their result, not your summary, decides.\n\n" + UNTRUSTED_NOTE
)


class Implementer:
    def __init__(self, services: Services):
        self.s = services
        self.cfg = services.config.stages.implementation

    def _run_tests(self) -> TestRun:
        return run_tests(self.command, self.s.workspace.path, self.cfg.test_timeout_s)

    @property
    def command(self) -> str:
        raw = self.cfg.test_command or detect_test_command(self.s.workspace.path)
        return expand_command(raw, self.s.workspace.path)

    def prepare(self, state: ImplState) -> ImplState:
        if state.get("messages"):
            return {}
        worktree = self.s.workspace.ensure()
        if self.cfg.setup_command:
            self._setup(worktree)
        command = self.command  # fails early, with the config key to set, when none is found
        docs = [self.s.workspace.read_doc(k) for k in ("spec", "lld")]
        task = "\n\n".join(data_block(f"approved {k}", d[0]) for k, d in zip(("spec", "lld"), docs) if d)
        if not task:
            raise MissingArtifactError(f"no implementation spec for issue #{state['issue_number']} at "
                                       f"{self.s.workspace.doc_path('spec')}", "run the spec stage first")
        intro = f"{task}\n\nThe test command is `{command}`. Implement the spec now."
        if state.get("human_feedback"):
            notes = "\n".join(f"- {f}" for f in state["human_feedback"])
            intro += "\n\n" + data_block("feedback from the human approver", notes) + (
                "\nThe branch already holds an implementation; change it to address this feedback.")
        return {"messages": [Message(role="user", content=intro).model_dump()], "test_command": command,
                "base_sha": self.s.workspace.git.head(), "step": 0, "round_steps": 0, "fix_round": 0,
                "refused": 0}

    def _setup(self, worktree) -> None:
        proc = subprocess.run(self.cfg.setup_command, shell=True, cwd=worktree, capture_output=True,
                              text=True, timeout=self.cfg.test_timeout_s)
        if proc.returncode != 0:
            raise TestCommandError(
                f"setup command failed ({proc.returncode}): {self.cfg.setup_command}\n{proc.stderr[-2000:]}",
                "fix orchestrator.stages.implementation.setup_command",
            )

    def agent(self, state: ImplState) -> ImplState:
        step = state.get("step", 0)
        request = Request(system=SYSTEM, messages=[Message.model_validate(m) for m in state["messages"]],
                          tools=TOOL_SPECS, purpose="impl.step", turn=step)
        client = self.s.models.client("impl", self.cfg.implementer, state.get("attempt", 1))
        reply = client.complete(request)
        message = Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls)
        return {"messages": [*state["messages"], message.model_dump()], "step": step + 1,
                "round_steps": state.get("round_steps", 0) + 1,
                "next": "tools" if reply.tool_calls else "test"}

    def tools(self, state: ImplState) -> ImplState:
        last = Message.model_validate(state["messages"][-1])
        tools = WorktreeTools(self.s.workspace.path, self._test_report)
        results, finished, refused = [], False, state.get("refused", 0)
        for call in last.tool_calls:
            text, was_refused = tools.execute(call)
            refused += was_refused
            self._log_tool(call, text, was_refused)
            results.append(Message(role="tool", tool_call_id=call.id, content=text).model_dump())
            finished |= call.name == "finish"
        out_of_steps = state.get("round_steps", 0) >= self.cfg.max_steps
        return {"messages": [*state["messages"], *results], "refused": refused,
                "next": "test" if finished or out_of_steps else "agent"}

    def _test_report(self) -> str:
        run = self._run_tests()
        return f"{run.summary()}\n{run.output[-6000:]}"

    def _log_tool(self, call, result: str, refused: bool) -> None:
        record = {**describe(call), "refused": refused, "result": result[:500]}
        folder = self.s.run_dir / "impl"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "tool-calls.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if refused:
            self.s.progress.emit("note", stage="impl", message=f"refused {call.name}: {result}")

    def test(self, state: ImplState) -> ImplState:
        run = self._run_tests()
        record = dataclasses.asdict(run)
        self.s.progress.emit("tests_ran", stage="impl", message=run.summary(),
                             verdict="PASS" if run.ok else "FAIL", data={"command": run.command})
        (self.s.run_dir / "impl").mkdir(parents=True, exist_ok=True)
        (self.s.run_dir / "impl" / f"tests-{state.get('fix_round', 0)}.json").write_text(json.dumps(record, indent=2))
        if run.ok:
            return {"test_run": record, "next": "commit"}
        if state.get("fix_round", 0) >= self.cfg.max_test_retries:
            failing = ", ".join(run.failed_tests[:10]) or run.summary()
            return {"test_run": record, "outcome": "BLOCK", "exit_reason": "tests_failing", "next": "end",
                    "message": f"tests still failing after {self.cfg.max_test_retries} fix round(s): {failing}"}
        ask = Message(role="user", content=data_block("test output", run.output)
                      + f"\n\nThe tests fail ({run.summary()}). Fix the code, then call `finish`.")
        return {"test_run": record, "messages": [*state["messages"], ask.model_dump()],
                "fix_round": state.get("fix_round", 0) + 1, "round_steps": 0, "next": "agent"}

    def commit(self, state: ImplState) -> ImplState:
        git = self.s.workspace.git
        title = self.s.forge.get_issue(state["issue_number"]).title
        sha = git.commit_all(f"feat: {_one_line(title)} (#{state['issue_number']})") or git.head()
        changed = git.changed_files(state["base_sha"], sha)
        run = state["test_run"] or {}
        return {"commit": sha, "outcome": "PASS", "exit_reason": "tests_pass", "next": "end",
                "message": f"tests pass ({_summary(run)}); {len(changed)} file(s) changed"}


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return (line[:69] + "…") if len(line) > 70 else line


def _summary(run: dict) -> str:
    return f"{run.get('passed', 0)} passed, {run.get('failed', 0)} failed"



def build_graph(services: Services, checkpointer=None):
    impl = Implementer(services)
    g = StateGraph(ImplState)
    g.add_node("prepare", impl.prepare)
    g.add_node("agent", impl.agent)
    g.add_node("tools", impl.tools)
    g.add_node("test", impl.test)
    g.add_node("commit", impl.commit)
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "agent")
    g.add_conditional_edges("agent", route_next, ["tools", "test"])
    g.add_conditional_edges("tools", route_next, ["agent", "test"])
    g.add_conditional_edges("test", route_next, ["agent", "commit", END])
    g.add_edge("commit", END)
    return g.compile(checkpointer=checkpointer, name="implementation_workflow")
