"""Implementation: test first, in the issue's worktree, judged by the tests alone.

    prepare → baseline → [agent ⇄ tools | external] → red_check → [agent ⇄ tools | external]
            → test → (fix round → [agent ⇄ tools | external] → test)* → commit

Where each part lives: prepare.py (keep interrupted work, set up the tests, the base run),
red.py (the tests written first must fail), green.py (judge each round, keep the best state,
squash into the final commit), agent.py (the built-in implementer's model ⇄ tools loop),
cli_implementer.py (an agent CLI as the implementer) and worktree.py (the worktree's git,
test runs and records, shared by all of them). Each model call is its own graph step, so a
killed run resumes at the call it was making.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langgraph.graph import END, START, StateGraph

from agentos.workflows.implementation import agent, cli_implementer, green, prepare, red
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.services import Services


def check(state: ImplState) -> Literal["red_check", "test"]:
    """After an implementer's round: the phase decides which check judges it."""
    return "red_check" if state["phase"] == "red" else "test"


class Routes:
    """Where each node can go, from the state and the implementer the config names."""

    def __init__(self, wt: StageWorktree):
        self.wt = wt

    def implementer(self, state: ImplState) -> Literal["agent", "external"]:
        return "external" if self.wt.uses_cli else "agent"

    def after_agent(self, state: ImplState) -> Literal["tools", "red_check", "test"]:
        return "tools" if agent.wants_tools(state) else check(state)

    def after_tools(self, state: ImplState) -> Literal["agent", "red_check", "test"]:
        """The round goes on until the model calls `finish` or reaches a round limit."""
        if agent.finished(state) or agent.round_limit(self.wt, state):
            return check(state)
        return "agent"

    def after_external(self, state: ImplState) -> Literal["red_check", "test", "__end__"]:
        return END if state.get("outcome") else check(state)

    def after_red_check(self, state: ImplState) -> Literal["agent", "external", "__end__"]:
        return END if state.get("outcome") else self.implementer(state)

    def after_test(self, state: ImplState) -> Literal["agent", "external", "commit", "__end__"]:
        if state.get("outcome"):
            return END
        return "commit" if state["judgement"]["ok"] else self.implementer(state)


def build_graph(services: Services, checkpointer=None):
    wt = StageWorktree(services)
    routes = Routes(wt)
    g = StateGraph(ImplState)
    g.add_node("prepare", partial(prepare.prepare, wt))
    g.add_node("baseline", partial(prepare.baseline, wt))
    g.add_node("agent", partial(agent.agent, wt))
    g.add_node("tools", partial(agent.tools, wt))
    g.add_node("external", partial(cli_implementer.external_round, wt))
    g.add_node("red_check", partial(red.red_check, wt))
    g.add_node("test", partial(green.test, wt))
    g.add_node("commit", partial(green.commit, wt))
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "baseline")
    g.add_conditional_edges("baseline", routes.implementer)
    g.add_conditional_edges("agent", routes.after_agent)
    g.add_conditional_edges("tools", routes.after_tools)
    g.add_conditional_edges("external", routes.after_external)
    g.add_conditional_edges("red_check", routes.after_red_check)
    g.add_conditional_edges("test", routes.after_test)
    g.add_edge("commit", END)
    return g.compile(checkpointer=checkpointer, name="implementation_workflow")
