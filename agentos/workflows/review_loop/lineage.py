"""Lineage: every round's prompt, answer, draft, diff, verdict and cost, readable by a person.

Written under the run's folder as `<stage>/<step>/…`; rewriting a step (a node re-run after a
crash) overwrites the same files, so the record stays one entry per step.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from agentos.llm.base import Request, Response
from agentos.redact import redact


class Lineage:
    def __init__(self, folder: Path):
        self.folder = folder

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact(text), encoding="utf-8")
        return path

    def step(self, name: str, request: Request, response: Response | None, *, draft: str | None = None,
             previous: str | None = None, verdict: dict[str, Any] | None = None, how: str | None = None) -> None:
        self.write(f"{name}/prompt.md", render_prompt(request))
        if response is not None:
            self.write(f"{name}/response.md", response.text)
            self.write(f"{name}/usage.json", json.dumps({
                "model": response.model, **response.usage.model_dump(), "cost_usd": response.cost_usd,
                "latency_s": response.latency_s, "request_id": response.request_id, "how": how}, indent=2))
        if draft is not None:
            self.write(f"{name}/draft.md", draft)
        if previous is not None and draft is not None:
            diff = difflib.unified_diff(previous.splitlines(True), draft.splitlines(True), "previous", "revised")
            self.write(f"{name}/diff.patch", "".join(diff))
        if verdict is not None:
            self.write(f"{name}/verdict.json", json.dumps(verdict, indent=2))


def render_prompt(request: Request) -> str:
    parts = [f"# {request.purpose} (turn {request.turn})", "## system", request.system]
    for i, message in enumerate(request.messages, 1):
        parts += [f"## message {i}: {message.role}", message.content]
    if request.output_schema:
        parts += ["## answer schema", "```json", json.dumps(request.output_schema, indent=2), "```"]
    return "\n\n".join(parts) + "\n"
