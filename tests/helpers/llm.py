"""For the model-layer tests: a request to send, a tool to offer, and a retry policy that
records its waits instead of sleeping."""

from __future__ import annotations

from pydantic import BaseModel

from agentos.llm.base import Message, Request, ToolSpec
from agentos.llm.retry import RetryPolicy


class Waits(list):
    """Every wait the retry layer asked for, in seconds (no real sleeping)."""

    def policy(self, **kw) -> RetryPolicy:
        settings = {"max_attempts": 3, "timeout_s": 30.0, "idle_timeout_s": 10.0, "max_wait_s": 60.0,
                    "sleep": self.append, "jitter": lambda: 0.5, **kw}
        return RetryPolicy(**settings)


def ask(text: str = "hello", purpose: str = "lld.draft", **kw) -> Request:
    return Request(system="You are careful.", messages=[Message(role="user", content=text)], purpose=purpose, **kw)


READ_FILE = ToolSpec(name="read_file", description="Read a file.",
                     parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})


class Finding(BaseModel):
    id: str
    note: str = ""


class Verdict(BaseModel):
    """A small structured-output schema, shaped like a reviewer's verdict."""

    verdict: str
    findings: list[Finding] = []
