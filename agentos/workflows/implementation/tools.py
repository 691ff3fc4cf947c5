"""The implementer's tools, and the path rules every change to the worktree must pass.

Every path is resolved (symlinks followed) and refused when it leaves the worktree, points
into `.git` or the worktree's test environment, or matches a protected glob (CI, secrets,
lock files) that the LLD's "Files changed" table does not list. Secret files are not even
readable. The same rules judge what an external agent CLI changed (see external.py).
Refusals go back to the model as the tool's result, so the loop goes on.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from agentos.llm.base import ToolCall, ToolSpec
from agentos.workflows.implementation.search import PatternRefused, search

SECRET_GLOBS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*",
    ".netrc", ".npmrc", ".pypirc", "credentials*", "secrets.*",
)
"""Never read or written: what they hold must not reach a prompt."""
PROTECTED_GLOBS = (
    ".github/workflows/*", ".gitlab-ci.yml", ".circleci/*", ".travis.yml", "azure-pipelines.yml",
    ".buildkite/*", "Jenkinsfile", ".agentos/*", "*.lock", "package-lock.json", "pnpm-lock.yaml",
    "npm-shrinkwrap.json", "go.sum",
)
"""Not written unless the LLD lists the file: CI definitions, agentos' own files, lock files."""
OFF_LIMITS_DIRS = (".git", ".venv")
"""The repository's history and the worktree's test environment (its packages judge the tests)."""
TEST_FILE_GLOBS = (
    "test_*.py", "*_test.py", "conftest.py", "*_test.go", "*.test.*", "*.spec.*",
    "test.py", "tests.py", "test.js", "test.mjs", "test.cjs", "test.ts", "tests.js",
    "tests/*", "test/*", "*/tests/*", "*/test/*", "__tests__/*", "*/__tests__/*", "spec/*",
)
MAX_READ_CHARS = 60_000
MAX_PATH_CHARS = 1024
MAX_ARGUMENT_CHARS = 2_000_000
"""A file's content or a replacement; the answer's own size bound (llm/answers.py) is usually lower."""
_SEARCH_SKIP_DIRS = {".git", ".venv", "node_modules", ".agentos", "__pycache__"}


class ToolRefused(Exception):
    """A tool call the implementer may not make; the reason is shown to the model."""


def _matches(rel: str, globs: Iterable[str]) -> bool:
    """Globs with a slash match the whole path; others match the file name at any depth."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel if "/" in g else name, g) for g in globs)


def is_secret(rel: str) -> bool:
    return _matches(rel, SECRET_GLOBS)


def is_test_path(rel: str) -> bool:
    """Whether a repository path is a test file by the usual conventions of the languages we run."""
    return _matches(rel, TEST_FILE_GLOBS)


def write_refusal(rel: str, allowed: Iterable[str] = ()) -> str | None:
    """Why a change to repository path `rel` is not allowed, or None when it is."""
    top = rel.split("/", 1)[0]
    if top in OFF_LIMITS_DIRS:
        what = "the .git directory" if top == ".git" else "the worktree's test environment (.venv)"
        return f"{rel}: {what} is off limits"
    if rel in set(allowed):
        return None
    if is_secret(rel):
        return f"{rel}: secret files are off limits"
    if _matches(rel, PROTECTED_GLOBS):
        return f"{rel}: protected file (CI, lock or agentos file); the design does not list it"
    return None


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
    _spec("finish", "Say this phase is complete; the tests will then be run.",
          summary={"type": "string", "optional": True}),
]

SPECS = {spec.name: spec for spec in TOOL_SPECS}

WriteGuard = Callable[[str], "str | None"]
"""Repository path → why it may not be written in the current phase, or None."""


class WorktreeTools:
    def __init__(self, root: Path, run_tests: Callable[[], str], allowed: Iterable[str] = (),
                 write_guard: WriteGuard | None = None):
        self.root = root.resolve()
        self.run_tests_fn = run_tests
        self.allowed = set(allowed)
        """Protected paths the design explicitly lists, and so may be changed."""
        self.write_guard = write_guard

    def execute(self, call: ToolCall) -> tuple[str, bool]:
        """(result text for the model, whether the call was refused)."""
        handler = getattr(self, f"_tool_{call.name}", None)
        if handler is None or call.name not in SPECS:
            return f"error: unknown tool {call.name!r}", True
        problem = argument_problem(call)
        if problem:
            return f"error: bad arguments for {call.name}: {problem}", True
        try:
            return handler(**call.arguments), False
        except ToolRefused as exc:
            return f"refused: {exc}", True
        except PatternRefused as exc:
            return f"error: {exc}", True
        except (OSError, UnicodeError, ValueError) as exc:
            return f"error: {exc}", False

    def resolve(self, rel: str) -> tuple[Path, str]:
        """(absolute path, repository-relative path) of a path the model gave, or ToolRefused."""
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
        return target, inside

    def readable(self, rel: str) -> Path:
        target, inside = self.resolve(rel)
        if is_secret(inside) and inside not in self.allowed:
            raise ToolRefused(f"{rel}: secret files are not readable")
        return target

    def writable(self, rel: str) -> Path:
        target, inside = self.resolve(rel)
        reason = write_refusal(inside, self.allowed) or (self.write_guard and self.write_guard(inside))
        if reason:
            raise ToolRefused(reason)
        return target

    def _tool_read_file(self, path: str) -> str:
        text = self.readable(path).read_text(encoding="utf-8")
        return text if len(text) <= MAX_READ_CHARS else text[:MAX_READ_CHARS] + "\n… (truncated)"

    def _tool_list_dir(self, path: str = ".") -> str:
        target = self.root if path in ("", ".") else self.readable(path)
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir() if p.name != ".git")
        return "\n".join(names) or "(empty)"

    def _tool_search_text(self, pattern: str) -> str:
        return search(pattern, self._searchable_files())

    def _searchable_files(self) -> Iterator[tuple[str, Path]]:
        """Files inside the worktree, skipping tool and hidden dirs, secrets and links leading out."""
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in _SEARCH_SKIP_DIRS and not d.startswith("."))
            for name in sorted(files):
                file = Path(folder) / name
                rel = file.relative_to(self.root).as_posix()
                if is_secret(rel) or not file.resolve().is_relative_to(self.root):
                    continue
                yield rel, file

    def _tool_write_file(self, path: str, content: str) -> str:
        target = self.writable(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {path} ({len(content)} chars)"

    def _tool_replace_in_file(self, path: str, old: str, new: str) -> str:
        target = self.writable(path)
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


def argument_problem(call: ToolCall) -> str | None:
    """What is wrong with a call's arguments against its tool's schema (all are strings), or None."""
    schema = SPECS[call.name].parameters
    names, required = set(schema["properties"]), set(schema["required"])
    if unknown := sorted(set(call.arguments) - names):
        return f"unknown argument(s) {', '.join(unknown)}; this tool takes {', '.join(sorted(names)) or 'none'}"
    if missing := sorted(required - set(call.arguments)):
        return f"missing argument(s) {', '.join(missing)}"
    for key, value in call.arguments.items():
        limit = MAX_PATH_CHARS if key == "path" else MAX_ARGUMENT_CHARS
        if not isinstance(value, str):
            return f"`{key}` must be a string, not {type(value).__name__}"
        if "\x00" in value:
            return f"`{key}` contains a NUL byte"
        if len(value) > limit:
            return f"`{key}` is {len(value):,} characters; at most {limit:,} are allowed"
    return None


def describe(call: ToolCall) -> dict[str, Any]:
    """A log-friendly record of a call, with long contents cut."""
    args = {k: (v if not isinstance(v, str) or len(v) < 200 else v[:200] + "…") for k, v in call.arguments.items()}
    return {"tool": call.name, "arguments": json.loads(json.dumps(args, default=str))}
