"""The local forge's files: where they are, how they are numbered, read, written and locked.

Layout (all paths inside the target repository):

    .agentos/issues/<N>.md              YAML front matter + Markdown body
    .agentos/issues/<N>.comments.yaml   list of {id, author, body, created_at}
    .agentos/pulls/<N>.md               YAML front matter + Markdown body

Humans edit these files, so reading is tolerant (CRLF, a byte-order mark, `---` lines in the
body) and every problem is a `UsageError` naming the file. Front matter is data only: it goes
through `yaml.safe_load`, never anything that can construct objects. Writes are atomic and,
where the platform has `fcntl`, serialised between processes by a lock on `.agentos/`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

from agentos.errors import UnknownIssueError, UsageError
from agentos.files import write_atomic
from agentos.forge.local_records import kind
from agentos.paths import RepoLayout

try:  # POSIX only; elsewhere writes stay atomic but are not serialised between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

NEW_ISSUE_HINT = 'create one with: agentos issue new --title "…" --body-file FILE'

_NUMBERED_MD = re.compile(r"(\d+)\.md", re.ASCII)
_NUMBERED_COMMENTS = re.compile(r"(\d+)\.comments\.yaml", re.ASCII)
_MAX_LISTED = 20


class LocalStore:
    """Where the issue, comment and pull request files of one repository's `.agentos/` are, and
    their numbering, locking, and reading and writing of documents (front matter + body)."""

    def __init__(self, root: Path, note: str | None = None):
        """`note` says why the local forge is in use; hints about missing issues repeat it."""
        self.root = root
        self.layout = RepoLayout(root)
        self.note = note
        self.locked = DirLock(self.layout.agentos_dir)
        """`with store.locked():` serialises writers (re-entrant)."""

    def issue_path(self, number: int) -> Path:
        return self.layout.issues_dir / f"{_check_number(number)}.md"

    def pr_path(self, number: int) -> Path:
        return self.layout.pulls_dir / f"{_check_number(number)}.md"

    def comments_path(self, number: int) -> Path:
        return self.layout.issues_dir / f"{_check_number(number)}.comments.yaml"

    def rel(self, path: Path) -> str:
        """`path` as shown in messages: relative to the repository when inside it."""
        with suppress(ValueError):
            return path.relative_to(self.root).as_posix()
        return str(path)

    def issue_numbers(self) -> list[int]:
        return sorted(self._index(self.layout.issues_dir))

    def pr_numbers(self) -> list[int]:
        return sorted(self._index(self.layout.pulls_dir))

    def next_number(self) -> int:
        """Issues and pull requests share one numbering, like GitHub (orphan comments count too)."""
        taken = (self._index(self.layout.issues_dir) | self._index(self.layout.pulls_dir)
                 | self._index(self.layout.issues_dir, _NUMBERED_COMMENTS))
        return max(taken, default=0) + 1

    def _index(self, directory: Path, pattern: re.Pattern[str] = _NUMBERED_MD) -> set[int]:
        """Numbers of the files in `directory` matching `pattern`; none if it does not exist."""
        if not directory.is_dir():
            return set()
        numbers = set()
        for path in directory.iterdir():
            match = pattern.fullmatch(path.name)
            if match and path.is_file():
                digits = match.group(1)
                if str(int(digits)) != digits:
                    raise UsageError(f"{self.rel(path)}: numbered files must not have leading zeros",
                                     f"rename it to {path.name.replace(digits, str(int(digits)), 1)}")
                numbers.add(int(digits))
        return numbers

    def require_issue(self, number: int) -> Path:
        """The issue's file, or UnknownIssueError explaining what exists instead."""
        path = self.issue_path(number)
        if path.is_file():
            return path
        issues = self.issue_numbers()
        hint = (f"existing issues: {_listed(issues)}" if issues
                else f"there are no issues yet; {NEW_ISSUE_HINT}")
        hint += f" (using the local forge: {self.note})" if self.note else ""
        if self.pr_path(number).is_file():
            raise UnknownIssueError(f"#{number} is a pull request, not an issue "
                                    f"({self.rel(self.pr_path(number))})", hint)
        raise UnknownIssueError(f"issue #{number} not found (no {self.rel(path)})", hint)

    def require_pr(self, number: int) -> Path:
        """The pull request's file, or UsageError saying what exists instead."""
        path = self.pr_path(number)
        if path.is_file():
            return path
        prs = self.pr_numbers()
        hint = f"existing pull requests: {_listed(prs)}" if prs else "there are no pull requests yet"
        what = "an issue, not a pull request" if self.issue_path(number).is_file() else "not found"
        raise UsageError(f"pull request #{number}: {what} (no {self.rel(path)})", hint)

    def read_doc(self, path: Path, hint: str) -> tuple[dict[str, Any], str]:
        """A document's front matter (as written, unknown keys included) and body."""
        return split_front_matter(read_text(path, self.rel(path)), self.rel(path), hint)

    def write_doc(self, path: Path, meta: dict[str, Any], body: str) -> None:
        write_atomic(path, render(meta, body))


class DirLock:
    """A re-entrant writer lock: a thread lock in-process, `flock` on a directory between processes."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._mutex = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._mutex:
            if self._depth == 0:
                self._fd = _acquire_dir_lock(self.directory)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as `|` blocks so humans can read them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML text for plain data (safe types only; block style; unicode kept)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def load_yaml(text: str, where: str, hint: str, first_line: int = 1) -> Any:
    """`yaml.safe_load`, with syntax errors turned into a UsageError naming file and line."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + first_line}" if mark else ""
        raise UsageError(f"{where}: invalid YAML{at}: {exc.problem or exc.context}", hint) from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: invalid YAML: {exc}", hint) from exc


def read_text(path: Path, where: str) -> str:
    """The file's text with LF line endings and no byte-order mark."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                         "save the file as UTF-8") from exc
    return normalise_newlines(text.removeprefix("\ufeff"))


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str, where: str, hint: str) -> tuple[dict[str, Any], str]:
    """Split `---\\n<yaml>\\n---\\n\\n<body>\\n` into (mapping, body).

    Only the first closing `---` (or `...`) line ends the front matter, so the body may
    contain `---` lines. One blank line after the front matter and one final newline are
    layout, not body (see `render`).
    """
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if start == len(lines) or lines[start].rstrip() != "---":
        raise UsageError(f"{where}: does not start with a '---' front matter line", hint)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise UsageError(f"{where}: the front matter opened on line {start + 1} is never closed "
                         "by a '---' line", hint)
    meta = load_yaml("\n".join(lines[start + 1:end]), where, hint, first_line=start + 2)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise UsageError(f"{where}: front matter must be YAML 'key: value' lines, found {kind(meta)}",
                         hint)
    body = "\n".join(lines[end + 1:]).removeprefix("\n").removesuffix("\n")
    return meta, body


def render(meta: dict[str, Any], body: str) -> str:
    """The inverse of `split_front_matter`: front matter, a blank line, the body, a newline."""
    body = normalise_newlines(body)
    return f"---\n{dump_yaml(meta)}---\n" + (f"\n{body}\n" if body else "")


def _acquire_dir_lock(directory: Path) -> int | None:
    """Create `directory` if needed and take an exclusive flock on it (None without fcntl)."""
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows
        return None
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_number(number: Any) -> int:
    """Issue and PR numbers are ints; anything else would be a path, not a number."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise UsageError(f"{number!r} is not an issue or pull request number", "pass a positive integer")
    return number


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(f"#{n}" for n in numbers[:_MAX_LISTED])
    return shown if len(numbers) <= _MAX_LISTED else f"{shown}, … ({len(numbers)} in all)"
