"""What the checkpointer stores: the graph state with every known secret redacted.

The issue is redacted where it is read (forge/base.py), and models' answers in the client; this
is the last line before state.db, for text that reached the state any other way (a test's
output, an error message). Only plain data is walked (strings inside dicts, lists and tuples);
other objects are stored as LangGraph's own serializer stores them.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from agentos.redact import current


class RedactingSerializer(JsonPlusSerializer):
    """LangGraph's serializer, fed the value with its secrets redacted."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return super().dumps_typed(_scrub(obj, current().redact))


def _scrub(value: Any, redact: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item, redact) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_scrub(item, redact) for item in value)
    return value
