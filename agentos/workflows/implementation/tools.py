"""The implementer's tools. Every path is confined to the worktree; refusals go back to the model."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from agentos.llm.base import ToolCall, ToolSpec

PROTECTED_GLOBS = (
    ".github/workflows/*", ".gitlab-ci.yml", ".env", ".env.*", "*.pem", "*.key",
    "id_rsa*", ".agentos/*", "*.lock", "package-lock.json",
)
MAX_READ_CHARS = 60_000


class ToolRefused(Exception):
    """A tool call the implementer may not make; the reason is shown to the model."""


def _spec(name: str, description: str, **props: dict) -> ToolSpec:
    required = [k for k, v in props.items() if not v.pop("optional", False)]
    return ToolSpec(name=name, description=description,
                    parameters={"type": "object", "properties": props, "required": required})


TOOL_SPECS = [
    _spec("read_file", "Read a text file of the repository.", path={"type": "string"}),
    _spec("list_dir", "List a directory of the repository.", path={"type": "string", "optional": True}),
    _spec("search_text", "Search files for a regular expression; returns path:line: text.",
          pattern={"type": "string"}),
    _spec("write_file", "Create or overwrite a file with the given content.",
          path={"type": "string"}, content={"type": "string"}),
    _spec("replace_in_file", "Replace one exact occurrence of `old` with `new` in a file.",
          path={"type": "string"}, old={"type": "string"}, new={"type": "string"}),
    _spec("run_tests", "Run the repository's test command and see the result."),
    _spec("finish", "Say the implementation is complete; the tests will then be run.",
          summary={"type": "string"}),
]


class WorktreeTools:
    def __init__(self, root: Path, run_tests: Callable[[], str], allowed: set[str] | None = None):
        self.root = root.resolve()
        self.run_tests_fn = run_tests
        self.allowed = allowed or set()
        """Protected paths the design explicitly lists, and so may be changed."""

    def execute(self, call: ToolCall) -> tuple[str, bool]:
        """(result text for the model, whether the call was refused)."""
        handler = getattr(self, f"_tool_{call.name}", None)
        if handler is None:
            return f"error: unknown tool {call.name!r}", True
        try:
            return handler(**call.arguments), False
        except ToolRefused as exc:
            return f"refused: {exc}", True
        except TypeError as exc:
            return f"error: bad arguments for {call.name}: {exc}", True
        except (OSError, UnicodeDecodeError, re.error) as exc:
            return f"error: {exc}", False

    def resolve(self, rel: str) -> Path:
        if not isinstance(rel, str) or not rel.strip():
            raise ToolRefused("a path inside the repository is required")
        if os.path.isabs(rel) or rel.startswith("~"):
            raise ToolRefused(f"{rel}: absolute paths are not allowed; use a path relative to the repository")
        target = (self.root / rel).resolve()
        if not target.is_relative_to(self.root):
            raise ToolRefused(f"{rel}: resolves outside the repository")
        inside = target.relative_to(self.root).as_posix()
        if inside == ".git" or inside.startswith(".git/"):
            raise ToolRefused(f"{rel}: the .git directory is off limits")
        if inside not in self.allowed and any(fnmatch.fnmatchcase(inside, g) for g in PROTECTED_GLOBS):
            raise ToolRefused(f"{rel}: protected file (CI, secrets, locks); the design does not list it")
        return target

    def _tool_read_file(self, path: str) -> str:
        text = self.resolve(path).read_text(encoding="utf-8")
        return text if len(text) <= MAX_READ_CHARS else text[:MAX_READ_CHARS] + "\n… (truncated)"

    def _tool_list_dir(self, path: str = ".") -> str:
        target = self.root if path in ("", ".") else self.resolve(path)
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir() if p.name != ".git")
        return "\n".join(names) or "(empty)"

    def _tool_search_text(self, pattern: str) -> str:
        rx, hits = re.compile(pattern), []
        for file in sorted(self.root.rglob("*")):
            rel = file.relative_to(self.root).as_posix()
            if not file.is_file() or rel.startswith((".git", ".venv", ".agentos")) or "/." in f"/{rel}":
                continue
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            hits += [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(lines, 1) if rx.search(line)]
            if len(hits) > 200:
                break
        return "\n".join(hits[:200]) or "no matches"

    def _tool_write_file(self, path: str, content: str) -> str:
        target = self.resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {path} ({len(content)} chars)"

    def _tool_replace_in_file(self, path: str, old: str, new: str) -> str:
        target = self.resolve(path)
        text = target.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            return f"error: `old` occurs {count} times in {path}; it must occur exactly once"
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
        return f"replaced 1 occurrence in {path}"

    def _tool_run_tests(self) -> str:
        return self.run_tests_fn()

    def _tool_finish(self, summary: str = "") -> str:
        return "ok, running the tests"


def describe(call: ToolCall) -> dict[str, Any]:
    """A log-friendly record of a call, with long contents cut."""
    args = {k: (v if not isinstance(v, str) or len(v) < 200 else v[:200] + "…") for k, v in call.arguments.items()}
    return {"tool": call.name, "arguments": json.loads(json.dumps(args, default=str))}
