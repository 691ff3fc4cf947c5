"""Settings and scripted replies of the demo's sample repository (the `sample_repo` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def edit_config(repo: Path, **orchestrator: Any) -> None:
    """Deep-merge settings into the repo's .agentos/config.yaml."""
    path = repo / ".agentos" / "config.yaml"
    doc = yaml.safe_load(path.read_text())
    _merge(doc["orchestrator"], orchestrator)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def edit_script(repo: Path, name: str, purpose: str, replies: list[dict]) -> None:
    """Replace the replies for one purpose in one of the repo's scripted model files."""
    path = repo / ".agentos" / "scripted" / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["replies"][purpose] = replies
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def script_replies(repo: Path, name: str, purpose: str) -> list[dict]:
    doc = yaml.safe_load((repo / ".agentos" / "scripted" / f"{name}.yaml").read_text())
    return doc["replies"][purpose]
