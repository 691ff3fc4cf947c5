"""The embedded forge: issues and pull requests as Markdown files under `.agentos/`.

Layout (all paths inside the target repository):

    .agentos/issues/<N>.md              YAML front matter + Markdown body
    .agentos/issues/<N>.comments.yaml   list of {id, author, body, created_at}
    .agentos/pulls/<N>.md               YAML front matter + Markdown body

Humans edit these files, so reading is tolerant (CRLF, a byte-order mark, missing
optional keys, `---` lines in the body, unknown keys kept on rewrite) and every
problem is reported as a `UsageError` naming the file. Front matter is data only:
it goes through `yaml.safe_load`, never anything that can construct objects.

Writes are atomic (temp file in the same directory, then `os.replace`) and, where the
platform has `fcntl`, serialised between processes by a lock on `.agentos/`.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.base import Comment, Issue, PullRequest
from agentos.paths import RepoLayout

try:  # POSIX only; elsewhere writes stay atomic but are not serialised between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

NEW_ISSUE_HINT = 'create one with: agentos issue new --title "…" --body-file FILE'
ISSUE_KEYS_HINT = (
    "an issue file is a '---' line, YAML keys (title: …, state: open|closed, labels: [a, b]), "
    "a closing '---' line, then the Markdown body"
)
PR_KEYS_HINT = (
    "a pull request file is a '---' line, YAML keys (title, head, base, state: "
    "open|closed|merged, draft: true|false), a closing '---' line, then the Markdown body"
)
COMMENTS_HINT = "the comments file is a YAML list of {id: <unique integer>, author, body, created_at}"

_NUMBERED_MD = re.compile(r"(\d+)\.md", re.ASCII)
_NUMBERED_COMMENTS = re.compile(r"(\d+)\.comments\.yaml", re.ASCII)
_MAX_LISTED = 20


class LocalForge:
    """Issues and pull requests kept as files in the repository itself; no network."""

    name = "local"

    def __init__(self, repo_root: Path, note: str | None = None):
        """`note` says why the local forge was chosen when GitHub was possible (shown to the user)."""
        self.root = Path(repo_root).resolve()
        self.layout = RepoLayout(self.root)
        self.note = note
        self.summary = "local (.agentos/issues)" + (f": {note}" if note else "")
        self._mutex = threading.RLock()
        self._lock_depth = 0
        self._lock_fd: int | None = None

    # ----------------------------------------------------------------- issues

    def create_issue(self, title: str, body: str, labels: list[str] | None = None) -> Issue:
        """Write a new open issue numbered max(issues, pulls) + 1 and return it."""
        meta = {"number": 0, "title": _one_line(title, "issue title"), "state": "open",
                "labels": _merge_labels([], labels or []), "created_at": _now()}
        with self._locked():
            number = meta["number"] = self._next_number()
            _atomic_write(self._issue_path(number), _render(meta, body))
        return self.get_issue(number)

    def get_issue(self, number: int) -> Issue:
        """The issue with its comments; raises UnknownIssueError when there is none."""
        path = self._require_issue(number)
        meta, body = self._read_doc(path)
        return self._issue_from(number, path, meta, body)

    def list_issues(self) -> list[Issue]:
        """Every issue, with comments, in number order."""
        return [self.get_issue(n) for n in sorted(self._index(self.layout.issues_dir))]

    def add_labels(self, issue: int, labels: list[str]) -> None:
        """Add labels not already present, keeping the existing order."""
        self._edit_labels(issue, lambda current: _merge_labels(current, labels))

    def remove_labels(self, issue: int, labels: list[str]) -> None:
        """Remove the given labels; ones the issue does not have are ignored."""
        drop = set(_label_list(labels))
        self._edit_labels(issue, lambda current: [x for x in current if x not in drop])

    # --------------------------------------------------------------- comments

    def add_comment(self, issue: int, body: str, author: str = "you") -> Comment:
        """Append a comment with the next id (ids are unique and increasing)."""
        with self._locked():
            self._require_issue(issue)
            raw = self._raw_comments(issue)
            return self._append_comment(issue, raw, body, author)

    def upsert_comment(self, issue: int, marker: str, body: str) -> Comment:
        """Edit the comment containing `marker`, or create it (author `agentos`).

        If `body` lacks the marker it is prepended on its own line, so the next call
        still finds this comment: one comment per marker, ever.
        """
        if not isinstance(marker, str) or not marker.strip():
            raise UsageError("upsert_comment needs a non-empty marker",
                             "pass a unique string such as '<!-- agentos:plan -->'")
        body = _normalise_newlines(body)
        body = body if marker in body else f"{marker}\n{body}"
        with self._locked():
            self._require_issue(issue)
            raw = self._raw_comments(issue)
            for item in raw:
                if marker in str(item.get("body") or ""):
                    if item.get("body") != body:
                        item["body"] = body
                        self._write_comments(issue, raw)
                    return _comment_from(item, self._rel(self._comments_path(issue)))
            return self._append_comment(issue, raw, body, "agentos")

    # ---------------------------------------------------------- pull requests

    def push_branch(self, branch: str) -> None:
        """No remote here: check that the branch exists locally; change nothing."""
        if not isinstance(branch, str) or not branch.strip():
            raise UsageError("push_branch needs a branch name", "pass the name of a local branch")
        try:
            proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                                  cwd=self.root, capture_output=True, text=True)
        except OSError as exc:
            raise UsageError(f"cannot run git in {self.root}: {exc}",
                             "install git and put it on PATH") from exc
        if proc.returncode != 0:
            detail = f" ({proc.stderr.strip().splitlines()[0]})" if proc.stderr.strip() else ""
            raise UsageError(f"branch {branch!r} does not exist in {self.root}{detail}",
                             f"create and commit it first, e.g. `git switch -c {branch}` then `git commit`")

    def check_push(self, branch: str) -> None:
        """Nothing to check: the branch stays in this repository, which we can write."""

    def permission(self, user: str) -> str:
        """No accounts here: whoever can edit these files can edit the repository."""
        return "write"

    def blob_url(self, ref: str, path: str) -> str | None:
        """No web view of the repository: the PR body names the path and the branch instead."""
        return None

    def list_prs(self) -> list[PullRequest]:
        """Every pull request in number order."""
        return [self._get_pr(n) for n in sorted(self._index(self.layout.pulls_dir))]

    def find_pr(self, head: str) -> PullRequest | None:
        """The open pull request from branch `head` (newest if several), or None."""
        found = [pr for pr in self.list_prs() if pr.head == head and pr.state == "open"]
        return found[-1] if found else None

    def find_or_create_pr(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Idempotent by head branch: an open PR for `head` is returned unchanged."""
        head, base = _one_line(head, "head branch"), _one_line(base, "base branch")
        if head == base:
            raise UsageError(f"a pull request needs different head and base branches (both {head!r})",
                             "commit the work on its own branch and open the PR from there")
        meta = {"number": 0, "title": _one_line(title, "pull request title"), "head": head, "base": base,
                "state": "open", "draft": bool(draft), "created_at": _now(), "url": ""}
        with self._locked():
            existing = self.find_pr(head)
            if existing is not None:
                return existing
            number = meta["number"] = self._next_number()
            path = self._pr_path(number)
            meta["url"] = path.as_uri()
            _atomic_write(path, _render(meta, body))
        return self._get_pr(number)

    def update_pr(
        self, number: int, *, body: str | None = None, draft: bool | None = None
    ) -> PullRequest:
        """Replace the body and/or the draft flag; None leaves that field as it is."""
        with self._locked():
            path = self._require_pr(number)
            meta, old_body = self._read_doc(path, PR_KEYS_HINT)
            self._pr_from(number, path, meta, old_body)  # refuse to rewrite a malformed file
            new_meta = {**meta, "url": path.as_uri()}
            if draft is not None:
                new_meta["draft"] = bool(draft)
            new_body = old_body if body is None else body
            if (new_meta, new_body) != (meta, old_body):
                _atomic_write(path, _render(new_meta, new_body))
        return self._get_pr(number)

    # ---------------------------------------------------------------- helpers

    def _issue_path(self, number: int) -> Path:
        return self.layout.issues_dir / f"{_check_number(number)}.md"

    def _pr_path(self, number: int) -> Path:
        return self.layout.pulls_dir / f"{_check_number(number)}.md"

    def _comments_path(self, number: int) -> Path:
        return self.layout.issues_dir / f"{_check_number(number)}.comments.yaml"

    def _rel(self, path: Path) -> str:
        """`path` as shown in messages: relative to the repository when inside it."""
        with suppress(ValueError):
            return path.relative_to(self.root).as_posix()
        return str(path)

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
                    raise UsageError(f"{self._rel(path)}: numbered files must not have leading zeros",
                                     f"rename it to {path.name.replace(digits, str(int(digits)), 1)}")
                numbers.add(int(digits))
        return numbers

    def _next_number(self) -> int:
        """Issues and pull requests share one numbering, like GitHub (orphan comments count too)."""
        taken = (self._index(self.layout.issues_dir) | self._index(self.layout.pulls_dir)
                 | self._index(self.layout.issues_dir, _NUMBERED_COMMENTS))
        return max(taken, default=0) + 1

    def _read_doc(self, path: Path, hint: str = ISSUE_KEYS_HINT) -> tuple[dict[str, Any], str]:
        return _split_front_matter(_read_text(path, self._rel(path)), self._rel(path), hint)

    def _require_issue(self, number: int) -> Path:
        """The issue's file, or UnknownIssueError explaining what exists instead."""
        path = self._issue_path(number)
        if path.is_file():
            return path
        issues = sorted(self._index(self.layout.issues_dir))
        hint = (f"existing issues: {_numbers(issues)}" if issues
                else f"there are no issues yet; {NEW_ISSUE_HINT}")
        hint += f" (using the local forge: {self.note})" if self.note else ""
        if self._pr_path(number).is_file():
            raise UnknownIssueError(f"#{number} is a pull request, not an issue "
                                    f"({self._rel(self._pr_path(number))})", hint)
        raise UnknownIssueError(f"issue #{number} not found (no {self._rel(path)})", hint)

    def _require_pr(self, number: int) -> Path:
        """The pull request's file, or UsageError saying what exists instead."""
        path = self._pr_path(number)
        if path.is_file():
            return path
        prs = sorted(self._index(self.layout.pulls_dir))
        hint = f"existing pull requests: {_numbers(prs)}" if prs else "there are no pull requests yet"
        what = "an issue, not a pull request" if self._issue_path(number).is_file() else "not found"
        raise UsageError(f"pull request #{number}: {what} (no {self._rel(path)})", hint)

    def _issue_from(self, number: int, path: Path, meta: dict[str, Any], body: str) -> Issue:
        where = self._rel(path)
        _expect_number(meta, number, where)
        return Issue(number=number, title=_text(meta, "title", where, ISSUE_KEYS_HINT),
                     body=body, labels=_labels(meta.get("labels"), where),
                     state=_choice(meta, "state", ("open", "closed"), where, ISSUE_KEYS_HINT),
                     comments=self._comments(number), url=path.as_uri())

    def _get_pr(self, number: int) -> PullRequest:
        path = self._require_pr(number)
        meta, body = self._read_doc(path, PR_KEYS_HINT)
        return self._pr_from(number, path, meta, body)

    def _pr_from(self, number: int, path: Path, meta: dict[str, Any], body: str) -> PullRequest:
        where, hint = self._rel(path), PR_KEYS_HINT
        _expect_number(meta, number, where)
        return PullRequest(number=number, title=_text(meta, "title", where, hint), body=body,
                           head=_text(meta, "head", where, hint), base=_text(meta, "base", where, hint),
                           state=_choice(meta, "state", ("open", "closed", "merged"), where, hint),
                           draft=_flag(meta, "draft", where, hint), url=path.as_uri())

    def _edit_labels(self, issue: int, change) -> None:
        """Apply `change(current labels) -> new labels` to the issue file; write only on change."""
        with self._locked():
            path = self._require_issue(issue)
            meta, body = self._read_doc(path)
            current = self._issue_from(issue, path, meta, body).labels
            new = change(current)
            if new != current:
                _atomic_write(path, _render({**meta, "labels": new}, body))

    def _raw_comments(self, issue: int) -> list[dict[str, Any]]:
        """The comments file as plain mappings (unknown keys kept), validated."""
        path = self._comments_path(issue)
        if not path.is_file():
            return []
        where = self._rel(path)
        data = _load_yaml(_read_text(path, where), where, COMMENTS_HINT)
        if data is None:
            return []
        if not isinstance(data, list):
            raise UsageError(f"{where}: expected a YAML list of comments, found {_kind(data)}", COMMENTS_HINT)
        comments = [_comment_from(item, where) for item in data]
        ids = [c.id for c in comments]
        if len(ids) != len(set(ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise UsageError(f"{where}: comment ids must be unique; repeated: {dupes}", COMMENTS_HINT)
        return data

    def _comments(self, issue: int) -> list[Comment]:
        where = self._rel(self._comments_path(issue))
        return [_comment_from(item, where) for item in self._raw_comments(issue)]

    def _append_comment(self, issue: int, raw: list[dict[str, Any]], body: str, author: str) -> Comment:
        """Add a comment with id = max + 1 to `raw` and write the file (caller holds the lock)."""
        item = {"id": max((int(c["id"]) for c in raw), default=0) + 1, "author": author,
                "body": _normalise_newlines(body), "created_at": _now()}
        self._write_comments(issue, [*raw, item])
        return _comment_from(item, self._rel(self._comments_path(issue)))

    def _write_comments(self, issue: int, raw: list[dict[str, Any]]) -> None:
        _atomic_write(self._comments_path(issue), _dump_yaml(raw))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers: a thread lock in-process, `flock` on `.agentos/` between processes."""
        with self._mutex:
            if self._lock_depth == 0:
                self._lock_fd = _acquire_dir_lock(self.layout.agentos_dir)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    os.close(self._lock_fd)  # closing the descriptor releases the flock
                    self._lock_fd = None


# ------------------------------------------------------------ file handling


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as `|` blocks so humans can read them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump_yaml(data: Any) -> str:
    """YAML text for plain data (safe types only; block style; unicode kept)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _load_yaml(text: str, where: str, hint: str, first_line: int = 1) -> Any:
    """`yaml.safe_load`, with syntax errors turned into a UsageError naming file and line."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + first_line}" if mark else ""
        raise UsageError(f"{where}: invalid YAML{at}: {exc.problem or exc.context}", hint) from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: invalid YAML: {exc}", hint) from exc


def _read_text(path: Path, where: str) -> str:
    """The file's text with LF line endings and no byte-order mark."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                         "save the file as UTF-8") from exc
    return _normalise_newlines(text.removeprefix("\ufeff"))


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_front_matter(text: str, where: str, hint: str) -> tuple[dict[str, Any], str]:
    """Split `---\\n<yaml>\\n---\\n\\n<body>\\n` into (mapping, body).

    Only the first closing `---` (or `...`) line ends the front matter, so the body may
    contain `---` lines. One blank line after the front matter and one final newline are
    layout, not body (see `_render`).
    """
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if start == len(lines) or lines[start].rstrip() != "---":
        raise UsageError(f"{where}: does not start with a '---' front matter line", hint)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise UsageError(f"{where}: the front matter opened on line {start + 1} is never closed "
                         "by a '---' line", hint)
    meta = _load_yaml("\n".join(lines[start + 1:end]), where, hint, first_line=start + 2)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise UsageError(f"{where}: front matter must be YAML 'key: value' lines, found {_kind(meta)}",
                         hint)
    body = "\n".join(lines[end + 1:]).removeprefix("\n").removesuffix("\n")
    return meta, body


def _render(meta: dict[str, Any], body: str) -> str:
    """The inverse of `_split_front_matter`: front matter, a blank line, the body, a newline."""
    body = _normalise_newlines(body)
    return f"---\n{_dump_yaml(meta)}---\n" + (f"\n{body}\n" if body else "")


def _atomic_write(path: Path, text: str) -> None:
    """Write `text` so that readers (and a killed process) see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


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


# ------------------------------------------------------- value validation


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _check_number(number: Any) -> int:
    """Issue and PR numbers are ints; anything else would be a path, not a number."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise UsageError(f"{number!r} is not an issue or pull request number", "pass a positive integer")
    return number


def _expect_number(meta: dict[str, Any], number: int, where: str) -> None:
    """`number:` is optional (the file name says it); if present it must agree."""
    value = meta.get("number", number)
    if isinstance(value, bool) or value != number:
        raise UsageError(f"{where}: front matter says number {value!r} but the file name says {number}",
                         f"set `number: {number}` or remove the key")


def _text(meta: dict[str, Any], key: str, where: str, hint: str) -> str:
    """A required single-line text value."""
    if key not in meta or meta[key] is None:
        raise UsageError(f"{where}: missing required key {key!r} in the front matter", hint)
    value = meta[key]
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key!r} must be text, found {_kind(value)} ({value!r})",
                         f"put the value in quotes: {key}: \"{value}\"")
    if not value.strip():
        raise UsageError(f"{where}: {key!r} is empty", hint)
    return value.strip()


def _choice(meta: dict[str, Any], key: str, choices: tuple[str, ...], where: str, hint: str) -> Any:
    """An optional enumerated value (default: the first choice); case-insensitive."""
    value = meta.get(key)
    if value is None:
        return choices[0]
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise UsageError(f"{where}: {key!r} must be one of {', '.join(choices)}; found {value!r}", hint)


def _flag(meta: dict[str, Any], key: str, where: str, hint: str) -> bool:
    """An optional true/false value (default false)."""
    value = meta.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise UsageError(f"{where}: {key!r} must be true or false; found {value!r}", hint)


def _labels(value: Any, where: str) -> list[str]:
    """Front matter `labels`: a list (or one label as text); missing means none."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, (str, int, float)) and not isinstance(x, bool)
                                              for x in value):
        raise UsageError(f"{where}: 'labels' must be a list of names, found {value!r}",
                         "write labels: [bug, ui]")
    return _merge_labels([], [str(x) for x in value])


def _label_list(labels: Iterable[str] | str) -> list[str]:
    """Stripped, non-empty label names; a lone string is one label, not its characters."""
    if isinstance(labels, str):
        labels = [labels]
    names = []
    for label in labels:
        if not isinstance(label, str):
            raise UsageError(f"label {label!r} is not text", "pass label names as strings")
        if label.strip():
            names.append(label.strip())
    return names


def _merge_labels(current: list[str], extra: Iterable[str] | str) -> list[str]:
    """`current` followed by the new names from `extra`, without duplicates, order kept."""
    merged = list(dict.fromkeys(current))
    merged += [x for x in dict.fromkeys(_label_list(extra)) if x not in merged]
    return merged


def _comment_from(item: Any, where: str) -> Comment:
    """One entry of a comments file; `id` is required, the rest has defaults."""
    if not isinstance(item, dict):
        raise UsageError(f"{where}: each comment must be a mapping, found {_kind(item)}", COMMENTS_HINT)
    cid = item.get("id")
    if isinstance(cid, bool) or not isinstance(cid, int):
        raise UsageError(f"{where}: a comment has id {cid!r}; ids must be integers", COMMENTS_HINT)
    body, author = item.get("body"), item.get("author")
    if body is not None and not isinstance(body, str):
        raise UsageError(f"{where}: comment {cid} has a body that is {_kind(body)}, not text", COMMENTS_HINT)
    return Comment(id=cid, author=str(author) if author is not None else "you",
                   body=body or "", created_at=_stamp(item.get("created_at")))


def _stamp(value: Any) -> str:
    """A timestamp as text, whether YAML read it as a string or (unquoted) as a date."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _one_line(value: Any, what: str) -> str:
    """A non-empty single line of text (titles and branch names)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"the {what} must be non-empty text", f"pass a {what}")
    if "\n" in value.strip() or "\r" in value.strip():
        raise UsageError(f"the {what} must be a single line: {value!r}", "put details in the body")
    return value.strip()


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(f"#{n}" for n in numbers[:_MAX_LISTED])
    return shown if len(numbers) <= _MAX_LISTED else f"{shown}, … ({len(numbers)} in all)"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
