"""LocalForge: the shared conformance suite plus what is specific to files on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import agentos
from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.local import LocalForge
from tests.forge.conformance import *  # noqa: F401,F403
from tests.helpers.repos import git, make_repo, rev


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository on branch `main` with one commit."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
def forge(repo: Path) -> LocalForge:
    return LocalForge(repo)


@pytest.fixture
def seed_issue(forge: LocalForge):
    def seed(title: str, body: str, labels: list[str]) -> int:
        return forge.create_issue(title, body, labels).number
    return seed


@pytest.fixture
def make_branch(repo: Path):
    def make(name: str) -> str:
        git(repo, "branch", name)
        return rev(repo, name)
    return make


@pytest.fixture
def branch_on_forge(repo: Path):
    """The local forge keeps branches in the repository itself."""
    return lambda name: rev(repo, name)


def _issue_file(repo: Path, number: int) -> Path:
    return repo / ".agentos" / "issues" / f"{number}.md"


def _write_issue(repo: Path, number: int, data: bytes | str) -> Path:
    """Hand-write an issue file, as a human would."""
    path = _issue_file(repo, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _front_matter(path: Path) -> tuple[dict, str]:
    """Split a file we wrote: '---', YAML, '---', blank line, body."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, _, rest = text[4:].partition("\n---\n")
    return yaml.safe_load(head), rest


def _all_files(repo: Path) -> list[str]:
    base = repo / ".agentos"
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


# ------------------------------------------------------------------ file format


def test_issue_file_is_markdown_with_front_matter(forge, repo):
    """The file on disk is front matter with the documented keys, a blank line, the body."""
    issue = forge.create_issue("Fix the café", "Body line\n\n---\nmore", ["bug"])
    meta, rest = _front_matter(_issue_file(repo, issue.number))
    assert list(meta) == ["number", "title", "state", "labels", "created_at"]
    assert meta["number"] == 1 and meta["title"] == "Fix the café"
    assert meta["state"] == "open" and meta["labels"] == ["bug"]
    assert isinstance(meta["created_at"], str) and meta["created_at"].endswith("Z")
    assert rest == "\nBody line\n\n---\nmore\n"
    assert "café" in _issue_file(repo, 1).read_text(encoding="utf-8")  # not \xe9-escaped


def test_issue_url_and_comments_file_format(forge, repo):
    """Issues carry a file:// url; comments are a readable YAML list with block bodies."""
    issue = forge.create_issue("t", "b")
    assert issue.url == _issue_file(repo, 1).resolve().as_uri()
    forge.add_comment(1, "line one\nline two")
    text = (repo / ".agentos/issues/1.comments.yaml").read_text(encoding="utf-8")
    assert "body: |-\n    line one\n    line two" in text
    [item] = yaml.safe_load(text)
    assert list(item) == ["id", "author", "body", "created_at"]


@pytest.mark.parametrize("body", ["", "x", "x\n", "\nleading blank", "trailing\n\n",
                                  "  indented\n\tand tabs  "])
def test_body_round_trips_exactly(forge, body):
    """Layout newlines are not confused with the body's own leading/trailing newlines."""
    assert forge.create_issue("t", body).body == body


@pytest.mark.parametrize("text", ["  two leading spaces\nx", "trailing spaces   \nx", "a\n\n\nb\n",
                                  "- [x]\n# h"])
def test_comment_body_round_trips_exactly(forge, text):
    """Comment bodies in the YAML file come back byte for byte."""
    forge.create_issue("t", "b")
    forge.add_comment(1, text)
    assert forge.get_issue(1).comments[0].body == text


def test_hand_edited_crlf_issue_without_labels_parses(forge, repo):
    """CRLF endings, a BOM, no `labels`/`number`/`state`, and `---` in the body are fine."""
    _write_issue(repo, 4, b"\xef\xbb\xbf---\r\ntitle: Hand made\r\n---\r\n\r\nFirst\r\n---\r\nlast\r\n")
    issue = forge.get_issue(4)
    assert (issue.title, issue.labels, issue.state) == ("Hand made", [], "open")
    assert issue.body == "First\n---\nlast"


def test_hand_edited_file_keeps_unknown_keys_on_rewrite(forge, repo):
    """Editing labels rewrites the file but keeps keys a human added."""
    _write_issue(repo, 2, "---\ntitle: T\nassignee: ana\nlabels: bug\n---\nbody\n")
    forge.add_labels(2, ["ui"])
    meta, _ = _front_matter(_issue_file(repo, 2))
    assert meta["assignee"] == "ana" and meta["labels"] == ["bug", "ui"]
    assert forge.get_issue(2).body == "body"


def test_unquoted_timestamp_is_read_as_text(forge, repo):
    """YAML reads a bare timestamp as a datetime; it must not break the issue."""
    _write_issue(repo, 1, "---\ntitle: T\ncreated_at: 2024-05-01T10:00:00Z\n---\n")
    forge.add_comment(1, "hi")
    assert forge.get_issue(1).title == "T"


@pytest.mark.parametrize("text, complaint", [
    ("---\ntitle: [unclosed\n---\nbody\n", "invalid YAML at line"),
    ("---\ntitle: T\nbody without closing line\n", "never closed"),
    ("title: T\n\nno front matter\n", "does not start with a '---'"),
    ("---\n- a\n- b\n---\n", "must be YAML 'key: value'"),
    ("---\nstate: open\n---\n", "missing required key 'title'"),
    ("---\ntitle: T\nstate: pending\n---\n", "'state' must be one of open, closed"),
    ("---\ntitle: 42\n---\n", "'title' must be text"),
    ("---\ntitle: T\nlabels: {a: 1}\n---\n", "'labels' must be a list"),
    ("---\nnumber: 8\ntitle: T\n---\n", "says number 8"),
    ("---\nnumber:\ntitle: T\n---\n", "says number None"),
    ("---\nnumber: true\ntitle: T\n---\n", "says number True"),
    ("---\ntitle: !!python/object/apply:os.system ['echo pwned']\n---\n", "invalid YAML"),
])
def test_malformed_issue_file_raises_usage_error_naming_it(forge, repo, text, complaint):
    """Each kind of hand-editing mistake gets a clear UsageError that names the file."""
    _write_issue(repo, 7, text)
    with pytest.raises(UsageError) as caught:
        forge.get_issue(7)
    assert not isinstance(caught.value, UnknownIssueError)
    assert ".agentos/issues/7.md" in caught.value.message
    assert complaint in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize("text, complaint", [
    ("---\ntitle: T\nbase: main\n---\n", "missing required key 'head'"),
    ("---\ntitle: T\nhead: '  '\nbase: main\n---\n", "'head' is empty"),
    ("---\ntitle: T\nhead: h\nbase: main\nstate: gone\n---\n", "'state' must be one of open, closed, merged"),
    ("---\ntitle: T\nhead: h\nbase: main\ndraft: maybe\n---\n", "'draft' must be true or false"),
])
def test_malformed_pull_request_file_raises_usage_error_naming_it(forge, repo, text, complaint):
    path = repo / ".agentos/pulls/4.md"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        forge.pulls.all()
    assert ".agentos/pulls/4.md" in caught.value.message and complaint in caught.value.message
    assert "a pull request file is" in caught.value.hint


def test_front_matter_is_read_tolerantly(forge, repo):
    """A lone label, an upper-case state and an empty optional key are what they plainly mean."""
    _write_issue(repo, 1, "---\ntitle: '  T  '\nstate: CLOSED\nlabels: bug\ndraft:\n---\n")
    issue = forge.get_issue(1)
    assert (issue.title, issue.state, issue.labels) == ("T", "closed", ["bug"])


@pytest.mark.parametrize("entry, complaint", [
    ("- id: one\n", "a comment has id 'one'; ids must be integers"),
    ("- id: 1\n  body: 5\n", "comment 1 has a body that is a number, not text"),
    ("- just text\n", "each comment must be a mapping, found text"),
])
def test_malformed_comment_entries_are_explained(forge, repo, entry, complaint):
    forge.create_issue("t", "b")
    (repo / ".agentos/issues/1.comments.yaml").write_text(entry)
    with pytest.raises(UsageError, match=complaint):
        forge.get_issue(1)


def test_malformed_comments_file_raises_usage_error_naming_it(forge, repo):
    forge.create_issue("t", "b")
    (repo / ".agentos/issues/1.comments.yaml").write_text("- id: 1\n  body: a\n- id: 1\n  body: b\n")
    with pytest.raises(UsageError, match=r"1\.comments\.yaml: comment ids must be unique"):
        forge.get_issue(1)


def test_non_utf8_file_is_a_usage_error(forge, repo):
    _write_issue(repo, 3, b"---\ntitle: caf\xe9\n---\n")
    with pytest.raises(UsageError, match=r"3\.md: not UTF-8"):
        forge.get_issue(3)


def test_leading_zero_file_name_is_explained(forge, repo):
    _write_issue(repo, 1, "---\ntitle: ok\n---\n")
    (repo / ".agentos/issues/007.md").write_text("---\ntitle: T\n---\n")
    with pytest.raises(UsageError, match="rename it to 7.md"):
        forge.get_issue(7)


# ---------------------------------------------------------------- unknown issues


def test_unknown_issue_hint_lists_existing_numbers(forge):
    forge.create_issue("a", "")
    forge.create_issue("b", "")
    with pytest.raises(UnknownIssueError) as caught:
        forge.get_issue(9)
    assert "#9" in caught.value.message
    assert "#1, #2" in caught.value.hint


def test_unknown_issue_in_empty_forge_says_how_to_create_one(forge):
    with pytest.raises(UnknownIssueError) as caught:
        forge.get_issue(1)
    assert "agentos issue new --title" in caught.value.hint


def test_pr_number_given_as_issue_says_it_is_a_pull_request(forge, make_branch):
    forge.create_issue("an issue", "")
    make_branch("feature")
    pr = forge.find_or_create_pr(head="feature", base="main", title="t", body="b")
    with pytest.raises(UnknownIssueError) as caught:
        forge.get_issue(pr.number)
    assert f"#{pr.number} is a pull request" in caught.value.message


def test_non_integer_number_is_rejected(forge):
    with pytest.raises(UsageError):
        forge.get_issue("../../etc/passwd")  # type: ignore[arg-type]


# ------------------------------------------------------------- numbering, PRs


def test_issues_and_prs_share_numbering(forge, make_branch):
    """Like GitHub: the next number is max over issues and pull requests, plus one."""
    assert forge.create_issue("one", "").number == 1
    make_branch("b1")
    assert forge.find_or_create_pr(head="b1", base="main", title="t", body="").number == 2
    assert forge.create_issue("three", "").number == 3
    assert [i.number for i in forge.list_issues()] == [1, 3]
    assert [p.number for p in forge.pulls.all()] == [2]


def test_pr_file_format_and_url(forge, repo):
    pr = forge.find_or_create_pr(head="feat", base="main", title="Add x", body="Closes #1", draft=True)
    path = repo / ".agentos" / "pulls" / f"{pr.number}.md"
    meta, rest = _front_matter(path)
    assert list(meta) == ["number", "title", "head", "base", "state", "draft", "created_at", "url"]
    assert meta["url"] == pr.url == path.resolve().as_uri() and pr.url.startswith("file:///")
    assert (meta["draft"], meta["state"], rest) == (True, "open", "\nCloses #1\n")


def test_closed_pr_is_not_reused(forge, repo):
    """Only an open PR makes find_or_create_pr idempotent; after closing, a new one opens."""
    first = forge.find_or_create_pr(head="feat", base="main", title="t", body="b")
    path = repo / ".agentos/pulls" / f"{first.number}.md"
    path.write_text(path.read_text().replace("state: open", "state: closed"))
    assert forge.find_pr("feat") is None
    assert forge.find_or_create_pr(head="feat", base="main", title="t", body="b").number != first.number


def test_update_unknown_pr_is_a_usage_error(forge):
    forge.create_issue("an issue", "")
    with pytest.raises(UsageError, match="#1: an issue, not a pull request"):
        forge.update_pr(1, body="x")


def test_head_equal_to_base_is_refused(forge):
    with pytest.raises(UsageError, match="different head and base"):
        forge.find_or_create_pr(head="main", base="main", title="t", body="b")


# -------------------------------------------------------------- labels, comments


def test_labels_keep_order_without_duplicates(forge):
    forge.create_issue("t", "", ["b", "a"])
    forge.add_labels(1, ["c", "a", "d", "c"])
    forge.remove_labels(1, ["a", "zzz"])
    assert forge.get_issue(1).labels == ["b", "c", "d"]


def test_label_given_as_a_string_is_one_label(forge):
    forge.create_issue("t", "")
    forge.add_labels(1, "bug")  # type: ignore[arg-type]
    assert forge.get_issue(1).labels == ["bug"]


def test_comment_ids_increase_and_upsert_author_is_agentos(forge):
    forge.create_issue("t", "")
    first = forge.add_comment(1, "human note")
    marked = forge.upsert_comment(1, "<!-- m -->", "<!-- m --> status")
    edited = forge.upsert_comment(1, "<!-- m -->", "<!-- m --> status 2")
    third = forge.add_comment(1, "another", author="ana")
    assert (first.id, marked.id, edited.id, third.id) == (1, 2, 2, 3)
    assert (first.author, marked.author, third.author) == ("you", "agentos", "ana")
    assert [c.body for c in forge.get_issue(1).comments] == \
        ["human note", "<!-- m --> status 2", "another"]


def test_upsert_adds_missing_marker_so_it_stays_one_comment(forge):
    forge.create_issue("t", "")
    forge.upsert_comment(1, "<!-- m -->", "no marker here")
    forge.upsert_comment(1, "<!-- m -->", "still none")
    [comment] = forge.get_issue(1).comments
    assert comment.body == "<!-- m -->\nstill none"


def test_comment_on_unknown_issue_raises(forge):
    with pytest.raises(UnknownIssueError):
        forge.upsert_comment(5, "<!-- m -->", "x")


# ------------------------------------------------------- push, atomicity, laziness


def test_push_missing_branch_is_a_usage_error_and_changes_nothing(forge, repo):
    before = git(repo, "for-each-ref")
    with pytest.raises(UsageError, match="'nope' does not exist"):
        forge.push_branch("nope")
    assert git(repo, "for-each-ref") == before
    assert not (repo / ".agentos").exists()


def test_reads_create_no_directories(forge, repo):
    """Directories appear only when something is written."""
    with pytest.raises(UnknownIssueError):
        forge.get_issue(1)
    assert forge.find_pr("x") is None and forge.list_issues() == [] and forge.pulls.all() == []
    assert not (repo / ".agentos").exists()


def test_writes_leave_no_temp_files(forge, repo, make_branch):
    """After a mix of writes only the real files exist."""
    forge.create_issue("t", "b", ["x"])
    forge.add_labels(1, ["y"])
    forge.remove_labels(1, ["x"])
    forge.upsert_comment(1, "<!-- m -->", "<!-- m --> a")
    forge.upsert_comment(1, "<!-- m -->", "<!-- m --> b")
    make_branch("feat")
    pr = forge.find_or_create_pr(head="feat", base="main", title="t", body="b")
    forge.update_pr(pr.number, body="c", draft=True)
    assert _all_files(repo) == ["issues/1.comments.yaml", "issues/1.md", "pulls/2.md"]


def test_failed_write_keeps_old_file_and_no_temp(forge, repo, monkeypatch):
    """If the final rename fails, the previous content stays and the temp file is removed."""
    forge.create_issue("t", "b", ["x"])
    before = _issue_file(repo, 1).read_bytes()

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        forge.add_labels(1, ["y"])
    assert _issue_file(repo, 1).read_bytes() == before
    assert _all_files(repo) == ["issues/1.md"]


def test_two_forges_on_one_repo_do_not_reuse_numbers(repo):
    """Two instances (as two processes would) allocate distinct numbers."""
    a, b = LocalForge(repo), LocalForge(repo)
    numbers = [a.create_issue("a", "").number, b.create_issue("b", "").number,
               a.find_or_create_pr(head="h", base="main", title="t", body="").number]
    assert numbers == [1, 2, 3]


_CREATE_MANY = """
import sys
from pathlib import Path
from agentos.forge.local import LocalForge
forge = LocalForge(Path(sys.argv[1]))
for i in range(10):
    print(forge.create_issue(f"from {sys.argv[2]}", "").number)
"""


def test_concurrent_processes_never_share_a_number(repo):
    """Writers in separate processes are serialised: every issue gets its own number and file."""
    env = {**os.environ, "PYTHONPATH": str(Path(agentos.__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", _CREATE_MANY, str(repo), str(k)], env=env,
                              stdout=subprocess.PIPE, text=True) for k in range(4)]
    numbers = [int(n) for proc in procs for n in proc.communicate(timeout=60)[0].split()]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(numbers) == list(range(1, 41))
    assert len(LocalForge(repo).list_issues()) == 40
