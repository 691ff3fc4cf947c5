"""Routing shared by the workflow graphs."""

from langgraph.graph import END


def route_next(state) -> str:
    """Routers of loop graphs: the node that ran last put the next step in state["next"]."""
    step = state.get("next", "end")
    return END if step == "end" else step
