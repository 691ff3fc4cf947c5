"""Each graph's shape is pinned by a snapshot of its Mermaid drawing, so rewiring is deliberate.

Regenerate after an intended change: UPDATE_SNAPSHOTS=1 pytest tests/workflows/test_graph_shapes.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentos.config import OrchestratorConfig
from agentos.paths import RepoLayout
from agentos.progress.events import Progress
from agentos.workflows.orchestrator.graph import build_graph as build_orchestrator
from agentos.workflows.orchestrator.stages import BUILDERS
from agentos.workflows.services import Services, build_models
from agentos.workflows.workspace import Workspace

SNAPSHOTS = Path(__file__).parent.parent / "snapshots"


@pytest.fixture
def services(tmp_path) -> Services:
    layout = RepoLayout(tmp_path)
    cfg = OrchestratorConfig()
    ws = Workspace(layout, 1, "agentos/issue-1", "main", cfg.docs_dir)
    progress = Progress()
    return Services(layout, cfg, forge=None, models=build_models(layout, tmp_path / "run", progress),
                    progress=progress, workspace=ws, run_id="r", run_dir=tmp_path / "run")


@pytest.mark.parametrize("name", ["orchestrator", *BUILDERS])
def test_graph_shape_matches_snapshot(services, name):
    builder = build_orchestrator if name == "orchestrator" else BUILDERS[name]
    drawing = builder(services).get_graph().draw_mermaid()
    path = SNAPSHOTS / f"{name}.mmd"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        if not os.environ.get("UPDATE_SNAPSHOTS") and os.environ.get("CI"):
            pytest.fail(f"missing snapshot {path}; run with UPDATE_SNAPSHOTS=1 and commit it")
        path.write_text(drawing)
    assert drawing == path.read_text(), f"{name} graph changed; if intended, UPDATE_SNAPSHOTS=1 and commit"
