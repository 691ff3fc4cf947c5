"""Behaviour every Forge implementation must show. Reuse it from a test module:

    from tests.forge.conformance import *  # noqa: F401,F403

and define four fixtures there:

    forge        a fresh forge with no issues or pull requests
    seed_issue   seed_issue(title, body, labels) -> int: create an issue, return its number
    make_branch  make_branch(name) -> str: create a local branch that `forge.push_branch` can
                 push; return its commit
    branch_on_forge  branch_on_forge(name) -> str | None: the commit the forge's side holds
                 for that branch, None when it has no such branch

Optionally override `base_branch` (default "main"): the branch pull requests target, and
`writer` (default "you"): a user the forge says may write to the repository.
This module is not collected by itself (its name does not start with `test_`).
"""

from __future__ import annotations

import pytest

from agentos.errors import UnknownIssueError
from agentos.forge.base import WRITE_ROLES, Forge

__all__ = [
    "base_branch",
    "writer",
    "test_is_a_forge",
    "test_get_issue_round_trip",
    "test_unknown_issue_raises",
    "test_upsert_comment_creates_once_then_edits_in_place",
    "test_upsert_comment_markers_are_independent",
    "test_labels_add_and_remove_are_idempotent",
    "test_find_pr_is_none_before_any_pr",
    "test_find_or_create_pr_is_idempotent_by_head",
    "test_update_pr_body_and_draft",
    "test_push_branch_of_existing_branch",
    "test_comments_come_back_in_order_with_authors",
    "test_pull_request_number_is_not_an_issue",
    "test_open_issues_are_oldest_first_by_label_and_never_pull_requests",
    "test_check_push_accepts_a_new_and_a_pushed_branch",
    "test_writer_has_write_permission",
    "test_blob_url_points_at_the_path_or_is_none",
]

MARKDOWN_BODY = (
    "## Steps — naïve café ☕\n"
    "\n"
    "1. run `agentos` with *emphasis*\n"
    "---\n"
    "A line after a horizontal rule: 日本語, emoji 🚀.\n"
    "\n"
    "---\n"
    "```yaml\n"
    "title: not front matter\n"
    "```\n"
    "- [ ] task"
)


@pytest.fixture
def base_branch() -> str:
    """The branch pull requests target; override in the importing module if it differs."""
    return "main"


@pytest.fixture
def writer() -> str:
    """A user with write access; override in the importing module if it differs."""
    return "you"


def _open_pr(forge, make_branch, base_branch, head, body="first body", draft=False):
    """Create and push `head`, then open a PR from it."""
    make_branch(head)
    forge.push_branch(head)
    return forge.find_or_create_pr(head=head, base=base_branch, title=f"PR from {head}",
                                   body=body, draft=draft)


def test_is_a_forge(forge):
    """The implementation satisfies the Forge protocol and names itself."""
    assert isinstance(forge, Forge)
    assert isinstance(forge.name, str) and forge.name


def test_get_issue_round_trip(forge, seed_issue):
    """Title, Markdown body (with `---` lines and unicode), labels and state survive a round trip."""
    number = seed_issue("Crash on naïve input — ünïcode ✓", MARKDOWN_BODY, ["bug", "good first issue"])
    issue = forge.get_issue(number)
    assert issue.number == number
    assert issue.title == "Crash on naïve input — ünïcode ✓"
    assert issue.body == MARKDOWN_BODY
    assert sorted(issue.labels) == ["bug", "good first issue"]
    assert issue.state == "open"
    assert issue.comments == []


def test_unknown_issue_raises(forge, seed_issue):
    """A number with no issue raises UnknownIssueError naming that number."""
    seed_issue("exists", "body", [])
    with pytest.raises(UnknownIssueError) as caught:
        forge.get_issue(987654)
    assert "987654" in str(caught.value)


def test_upsert_comment_creates_once_then_edits_in_place(forge, seed_issue):
    """Three upserts with one marker leave exactly one comment, holding the last body."""
    number = seed_issue("comments", "body", [])
    marker = "<!-- agentos:conformance -->"
    ids = [forge.upsert_comment(number, marker, f"{marker}\nversion {i}").id for i in range(3)]
    assert len(set(ids)) == 1
    marked = [c for c in forge.get_issue(number).comments if marker in c.body]
    assert len(marked) == 1
    assert marked[0].body == f"{marker}\nversion 2"
    assert marked[0].id == ids[0]


def test_upsert_comment_markers_are_independent(forge, seed_issue):
    """Upserting one marker never touches the comment of another."""
    number = seed_issue("two markers", "body", [])
    first, second = "<!-- agentos:first -->", "<!-- agentos:second -->"
    forge.upsert_comment(number, first, f"{first} one")
    forge.upsert_comment(number, second, f"{second} two")
    forge.upsert_comment(number, second, f"{second} two, edited")
    bodies = sorted(c.body for c in forge.get_issue(number).comments)
    assert bodies == [f"{first} one", f"{second} two, edited"]


def test_labels_add_and_remove_are_idempotent(forge, seed_issue):
    """Adding present labels and removing absent ones changes nothing."""
    number = seed_issue("labels", "body", ["bug"])
    forge.add_labels(number, ["triaged", "bug"])
    forge.add_labels(number, ["triaged"])
    labels = forge.get_issue(number).labels
    assert sorted(labels) == ["bug", "triaged"] and len(labels) == 2
    forge.remove_labels(number, ["triaged", "never-there"])
    forge.remove_labels(number, ["triaged"])
    assert forge.get_issue(number).labels == ["bug"]


def test_find_pr_is_none_before_any_pr(forge, make_branch):
    """No PR has been opened from a fresh branch."""
    make_branch("agentos/untouched")
    assert forge.find_pr("agentos/untouched") is None


def test_find_or_create_pr_is_idempotent_by_head(forge, make_branch, base_branch):
    """A second call for the same head returns the first PR, body unchanged."""
    first = _open_pr(forge, make_branch, base_branch, "agentos/idempotent", body="first body")
    again = forge.find_or_create_pr(head="agentos/idempotent", base=base_branch,
                                    title="another title", body="second body")
    assert again.number == first.number
    assert again.body == "first body"
    assert again.head == "agentos/idempotent" and again.base == base_branch
    assert again.state == "open" and again.url
    found = forge.find_pr("agentos/idempotent")
    assert found is not None and found.number == first.number


def test_update_pr_body_and_draft(forge, make_branch, base_branch):
    """update_pr changes only what it is given; find_pr sees the change."""
    pr = _open_pr(forge, make_branch, base_branch, "agentos/update", body="old", draft=False)
    assert pr.draft is False
    updated = forge.update_pr(pr.number, body="new body")
    assert (updated.body, updated.draft) == ("new body", False)
    updated = forge.update_pr(pr.number, draft=True)
    assert (updated.body, updated.draft) == ("new body", True)
    found = forge.find_pr("agentos/update")
    assert found is not None and (found.body, found.draft) == ("new body", True)
    assert forge.update_pr(pr.number, draft=False).draft is False


def test_push_branch_of_existing_branch(forge, make_branch, branch_on_forge):
    """Pushing a committed local branch puts that commit on the forge, and again (idempotent)."""
    commit = make_branch("agentos/push-me")
    forge.push_branch("agentos/push-me")
    assert branch_on_forge("agentos/push-me") == commit
    forge.push_branch("agentos/push-me")
    assert branch_on_forge("agentos/push-me") == commit


def test_comments_come_back_in_order_with_authors(forge, seed_issue):
    """Comments are part of the issue: oldest first, each with an id, an author and its exact body."""
    number = seed_issue("with comments", "body", [])
    first = forge.upsert_comment(number, "<!-- agentos:a -->", "<!-- agentos:a -->\nfirst  \n\n- [ ] x")
    second = forge.upsert_comment(number, "<!-- agentos:b -->", "<!-- agentos:b -->\nsecond")
    comments = forge.get_issue(number).comments
    assert [c.id for c in comments] == [first.id, second.id] and first.id < second.id
    assert comments[0].body == "<!-- agentos:a -->\nfirst  \n\n- [ ] x"
    assert all(c.author for c in comments)


def test_pull_request_number_is_not_an_issue(forge, seed_issue, make_branch, base_branch):
    """Issues and pull requests share numbers; a PR's number is refused as an issue, by name."""
    seed_issue("an issue", "body", [])
    pr = _open_pr(forge, make_branch, base_branch, "agentos/not-an-issue")
    with pytest.raises(UnknownIssueError) as caught:
        forge.get_issue(pr.number)
    assert "pull request" in str(caught.value)


def test_open_issues_are_oldest_first_by_label_and_never_pull_requests(forge, seed_issue, make_branch,
                                                                      base_branch):
    """What `agentos batch --label` and a batch of all open issues start from."""
    first = seed_issue("first", "body one", ["agentos"])
    second = seed_issue("second", "", [])
    third = seed_issue("third", "", ["bug", "agentos"])
    pr = _open_pr(forge, make_branch, base_branch, "agentos/listed")
    every = forge.open_issues()
    assert [i.number for i in every] == [first, second, third] and pr.number not in [i.number for i in every]
    assert [(i.title, i.body) for i in every][0] == ("first", "body one")
    assert [i.number for i in forge.open_issues("agentos")] == [first, third]
    assert forge.open_issues("no-such-label") == []


def test_check_push_accepts_a_new_and_a_pushed_branch(forge, make_branch, branch_on_forge):
    """Before any model runs: a branch not yet on the forge, or one we pushed, may be pushed;
    checking pushes nothing."""
    make_branch("agentos/check-me")
    before = branch_on_forge("agentos/check-me")
    forge.check_push("agentos/check-me")
    assert branch_on_forge("agentos/check-me") == before
    forge.push_branch("agentos/check-me")
    forge.check_push("agentos/check-me")


def test_writer_has_write_permission(forge, writer):
    assert forge.permission(writer) in WRITE_ROLES


def test_blob_url_points_at_the_path_or_is_none(forge):
    """A web link to a file on a branch, for the PR body; None where there is no web view."""
    url = forge.blob_url("agentos/issue-1", "docs/agentos/issue-1/lld.md")
    assert url is None or url.endswith("/blob/agentos/issue-1/docs/agentos/issue-1/lld.md")
    assert isinstance(forge.summary, str) and forge.name in forge.summary
