"""Every finished model call, kept durably, so a resumed run never pays for it again.

An append-only JSONL file per run; each line is fsynced before the answer is used. The key
is a digest of the model id, a salt (the stage attempt) and the whole request, so only an
identical call in the same context is replayed. An answer is kept with its finish reason, and
the model client judges a replayed answer as it judged the fresh one (a truncated answer leads to
the same, replayed, retry); refused and oversized answers are never kept, only charged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agentos.files import append_line, read_jsonl
from agentos.llm.base import Request, Response


def call_key(model_id: str, salt: str, request: Request) -> str:
    payload = f"{model_id}\n{salt}\n{request.model_dump_json()}"
    return hashlib.sha256(payload.encode()).hexdigest()


class CallJournal:
    def __init__(self, path: Path | None):
        self.path = path
        self._done: dict[str, Response] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        for record in read_jsonl(path):
            try:
                self._done[record["key"]] = Response.model_validate(record["response"])
            except (ValueError, KeyError):
                continue  # not a finished call's record

    def total_cost(self) -> float:
        return sum(r.cost_usd for r in self._done.values())

    def get(self, key: str) -> Response | None:
        return self._done.get(key)

    def put(self, key: str, request: Request, response: Response) -> None:
        self._done[key] = response
        if self.path is None:
            return
        record = {
            "key": key,
            "purpose": request.purpose,
            "turn": request.turn,
            "request": request.model_dump(mode="json", exclude_defaults=True),
            "response": response.model_dump(mode="json"),
        }
        append_line(self.path, json.dumps(record))
