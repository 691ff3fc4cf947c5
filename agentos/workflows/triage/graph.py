"""The triage workflow: the shared review loop for the triage document. Runs on its own or as a stage."""

from __future__ import annotations

from agentos.workflows.review_loop.graph import build_document_graph
from agentos.workflows.review_loop.kinds import TRIAGE
from agentos.workflows.services import Services


def build_graph(services: Services, checkpointer=None):
    return build_document_graph(TRIAGE, services, checkpointer)
