"""The code review: a second model reviews the implementation's diff and tries to break it.

    prepare → review → [adversarial] → (fix → [agent ⇄ tools | external] → test)* → review … → approve
                                                                            └→ end (blocked, cap, stagnation)

review asks the reviewer for a verdict and up to N adversarial tests (reviewer.py); adversarial
writes them, runs them with the suite and judges each (adversarial.py, rounds.py); REVISE
findings and failing tests go to the implementer as a fix round on the implementation's green
machinery (agent.py, cli_implementer.py, green.test), then the reviewer looks at the new diff.
The loop ends approved, blocked, at `max_rounds`, or at stagnation, and says which; it never
passes unapproved. Each model call is its own graph step, so a killed run resumes at the call
it was making.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langgraph.graph import END, START, StateGraph

from agentos.workflows.code_review import rounds
from agentos.workflows.code_review.reviewer import Reviewer
from agentos.workflows.code_review.state import ReviewState
from agentos.workflows.implementation import agent, cli_implementer, green
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.services import Services


class Routes:
    """Where each node can go, from the state and the implementer the config names."""

    def __init__(self, wt: StageWorktree):
        self.wt = wt

    def after_prepare(self, state: ReviewState) -> Literal["review", "fix"]:
        """Feedback from a rejected gate goes to the implementer first."""
        return "fix" if state.get("open_findings") else "review"

    def after_review(self, state: ReviewState) -> Literal["adversarial", "fix", "approve", "end"]:
        step = state["next_step"]
        return "adversarial" if step == "tests" else step

    def after_adversarial(self, state: ReviewState) -> Literal["fix", "review", "approve", "end"]:
        return state["next_step"]

    def implementer(self, state: ReviewState) -> Literal["agent", "external"]:
        return "external" if self.wt.uses_cli else "agent"

    def after_agent(self, state: ReviewState) -> Literal["tools", "test"]:
        return "tools" if agent.wants_tools(state) else "test"

    def after_tools(self, state: ReviewState) -> Literal["agent", "test"]:
        if agent.finished(state) or agent.round_limit(self.wt, state):
            return "test"
        return "agent"

    def after_external(self, state: ReviewState) -> Literal["test", "end"]:
        return "end" if state.get("outcome") else "test"

    def after_test(self, state: ReviewState) -> Literal["review", "agent", "external", "end"]:
        if state.get("outcome"):
            return "end"
        return "review" if state["judgement"]["ok"] else self.implementer(state)


def build_graph(services: Services, checkpointer=None):
    wt = StageWorktree(services, stage="review")
    routes, reviewer = Routes(wt), Reviewer(wt)
    g = StateGraph(ReviewState)
    g.add_node("prepare", partial(rounds.prepare, wt))
    g.add_node("review", reviewer.review)
    g.add_node("adversarial", partial(rounds.run_adversarial, wt))
    g.add_node("fix", partial(rounds.start_fix, wt))
    g.add_node("agent", partial(agent.agent, wt))
    g.add_node("tools", partial(agent.tools, wt))
    g.add_node("external", partial(cli_implementer.external_round, wt))
    g.add_node("test", partial(green.test, wt))
    g.add_node("approve", partial(rounds.approve, wt))
    g.add_node("end", partial(rounds.end, wt))
    g.add_edge(START, "prepare")
    g.add_conditional_edges("prepare", routes.after_prepare)
    g.add_conditional_edges("review", routes.after_review)
    g.add_conditional_edges("adversarial", routes.after_adversarial)
    g.add_conditional_edges("fix", routes.implementer)
    g.add_conditional_edges("agent", routes.after_agent)
    g.add_conditional_edges("tools", routes.after_tools)
    g.add_conditional_edges("external", routes.after_external)
    g.add_conditional_edges("test", routes.after_test)
    g.add_edge("approve", END)
    g.add_edge("end", END)
    return g.compile(checkpointer=checkpointer, name="review_workflow")
