"""GitHubForge: the shared conformance suite against a loopback fake GitHub, what is specific to
GitHub (request shapes, pagination, labels, drafts, permissions, the push), and the error paths
through respx: 404, 401, rate limits (primary and secondary), 422, 5xx and network errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx

from agentos.errors import UnknownIssueError, UsageError
from agentos.forge.base import ForgeUnavailableError
from agentos.forge.github import GitHubForge
from agentos.forge.remote import RepoSlug, Token
from tests.forge.conformance import *  # noqa: F401,F403
from tests.forge.fake_github import API_VERSION, FakeGitHub
from tests.helpers.repos import git, make_repo, push_from_another_clone, rev

TOKEN = "ghp_test-token-value"
SLUG = RepoSlug("acme", "widgets")
NOW = 1_800_000_000.0


@pytest.fixture
def repo(tmp_path: Path, origin: Path) -> Path:
    """A clone's view: a repository on main whose origin is the fake GitHub's bare repository."""
    root = make_repo(tmp_path / "repo")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return root


@pytest.fixture
def fake(fake_github):
    return fake_github(token=TOKEN)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def forge(repo: Path, fake: FakeGitHub, sleeps: list[float]) -> GitHubForge:
    return GitHubForge(repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url, sleep=sleeps.append)


@pytest.fixture
def seed_issue(fake: FakeGitHub):
    return lambda title, body, labels: fake.add_issue(title, body, labels)


@pytest.fixture
def make_branch(repo: Path):
    """A local branch with one commit of its own (GitHub refuses a PR with no commits)."""
    def make(name: str) -> str:
        sha = git(repo, "commit-tree", "main^{tree}", "-p", "main", "-m", f"work on {name}").strip()
        git(repo, "branch", name, sha)
        return sha
    return make


@pytest.fixture
def branch_on_forge(origin: Path):
    """GitHub's side of a branch: the fake's repository, `origin`."""
    return lambda name: rev(origin, name)


@pytest.fixture
def writer() -> str:
    return "agentos-bot"


# ------------------------------------------------------------ against the fake


def test_requests_carry_the_token_version_and_json_github_expects(forge, fake, make_branch):
    number = fake.add_issue("t", "b")
    forge.upsert_comment(number, "<!-- m -->", "hello")
    make_branch("feat")
    forge.push_branch("feat")
    forge.find_or_create_pr(head="feat", base="main", title="T", body="B", draft=True)
    assert all(r.headers["authorization"] == f"token {TOKEN}" for r in fake.requests)
    assert all(r.headers["x-github-api-version"] == API_VERSION for r in fake.requests if r.path != "/graphql")
    [create] = fake.calls("POST", r"/pulls$")
    assert create.body == {"title": "T", "head": "feat", "base": "main", "body": "B", "draft": True}
    [comment] = fake.calls("POST", r"/issues/1/comments$")
    assert comment.body == {"body": "<!-- m -->\nhello"}


def test_issue_fields_state_and_crlf_bodies(forge, fake):
    number = fake.add_issue("Closed one", "line 1\r\nline 2", ["bug"], state="closed")
    fake.add_comment(number, "alice", "a\r\nb")
    issue = forge.get_issue(number)
    assert (issue.state, issue.body, issue.labels) == ("closed", "line 1\nline 2", ["bug"])
    assert [(c.author, c.body) for c in issue.comments] == [("alice", "a\nb")]
    assert issue.url == f"{fake.web}/issues/{number}"


def test_issue_without_comments_costs_one_request(forge, fake):
    number = fake.add_issue("quiet", "")
    fake.requests.clear()
    forge.get_issue(number)
    assert [r.path for r in fake.requests] == [f"/repos/acme/widgets/issues/{number}"]


def test_comments_are_read_across_pages(forge, fake):
    number = fake.add_issue("busy", "")
    for i in range(205):
        fake.add_comment(number, "alice", f"comment {i}")
    comments = forge.get_issue(number).comments
    assert len(comments) == 205 and comments[-1].body == "comment 204"
    assert [r.query["page"] for r in fake.calls("GET", "/comments$")] == [["1"], ["2"], ["3"]]


def test_upsert_edits_in_place_and_skips_unchanged_bodies(forge, fake):
    number = fake.add_issue("t", "")
    forge.upsert_comment(number, "<!-- m -->", "<!-- m --> one")
    forge.upsert_comment(number, "<!-- m -->", "<!-- m --> two")
    forge.upsert_comment(number, "<!-- m -->", "<!-- m --> two")
    assert len(fake.calls("POST", "/comments$")) == 1
    assert len(fake.calls("PATCH", "/issues/comments/")) == 1
    assert [c["body"] for c in fake.comments_on(number)] == ["<!-- m --> two"]


def test_label_names_with_colons_and_spaces_are_encoded(forge, fake):
    number = fake.add_issue("t", "", ["good first issue", "agentos:in-progress"])
    forge.remove_labels(number, ["good first issue", "agentos:in-progress", "absent"])
    assert fake.labels_of(number) == []
    paths = [r.path for r in fake.calls("DELETE")]
    assert paths[0].endswith("/labels/good%20first%20issue") and paths[1].endswith("/labels/agentos%3Ain-progress")


def test_draft_and_ready_go_through_graphql(forge, fake, make_branch):
    make_branch("feat")
    forge.push_branch("feat")
    pr = forge.find_or_create_pr(head="feat", base="main", title="T", body="B")
    forge.update_pr(pr.number, draft=True)
    forge.update_pr(pr.number, draft=True)  # already a draft: no mutation
    forge.update_pr(pr.number, draft=False)
    queries = [r.body["query"] for r in fake.calls("POST", "^/graphql$")]
    assert ["convertPullRequestToDraft" in q for q in queries] == [True, False]
    assert all(r.body["variables"] == {"id": f"PR_node{pr.number}"} for r in fake.calls("POST", "^/graphql$"))
    assert not any("draft" in (r.body or {}) for r in fake.calls("PATCH", "/pulls/"))


def test_pr_opened_by_an_earlier_attempt_is_returned_not_duplicated(forge, fake, make_branch):
    """A kill between creating the PR and recording it: the 422 'already exists' finds the first one."""
    make_branch("feat")
    forge.push_branch("feat")
    first = forge.find_or_create_pr(head="feat", base="main", title="T", body="B")
    fake.inject(r"^GET /repos/acme/widgets/pulls$", 200, [])  # the lookup misses it once
    again = forge.find_or_create_pr(head="feat", base="main", title="T", body="B")
    assert again.number == first.number and len(fake.pulls) == 1


def test_pr_without_commits_is_refused_with_githubs_reason(forge, fake, repo):
    git(repo, "branch", "same-as-main")
    forge.push_branch("same-as-main")
    with pytest.raises(UsageError, match="No commits between main and same-as-main"):
        forge.find_or_create_pr(head="same-as-main", base="main", title="T", body="B")


@pytest.mark.parametrize("user_readable", [True, False])
def test_a_marked_comment_by_another_user_is_never_taken_over(repo, fake, user_readable):
    fake.user_readable = user_readable
    number = fake.add_issue("progress", "body")
    planted = fake.add_comment(number, "mallory", "<!-- agentos:progress -->\nclick http://evil.example")
    forge = GitHubForge(repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url)
    ours = forge.upsert_comment(number, "<!-- agentos:progress -->", "<!-- agentos:progress -->\nstage lld")
    assert ours.id != planted and ours.author == "agentos-bot"
    assert fake.comments[planted]["body"] == "<!-- agentos:progress -->\nclick http://evil.example"
    assert not fake.calls("PATCH", rf"/comments/{planted}$")
    again = GitHubForge(repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url)  # a resumed run
    edited = again.upsert_comment(number, "<!-- agentos:progress -->", "<!-- agentos:progress -->\nstage spec")
    assert fake.comments[planted]["body"].endswith("evil.example")
    marked = [c for c in fake.comments_on(number) if "agentos:progress" in c["body"]]
    if user_readable:  # the token's own comment is found again and edited in place
        assert edited.id == ours.id and len(marked) == 2
    else:  # who wrote a comment cannot be known: a new process never adopts one
        assert edited.id not in (ours.id, planted) and len(marked) == 3
    assert fake.problems == []


def test_permission_levels(forge, fake):
    fake.permissions.update(alice="write", bob="read")
    assert [forge.permission(u) for u in ("agentos-bot", "alice", "bob", "stranger")] == ["admin", "write", "read", "none"]


def test_check_push_without_write_access_names_the_token(forge, fake, make_branch):
    fake.repo_permissions.update(admin=False, maintain=False, push=False)
    with pytest.raises(UsageError) as caught:
        forge.check_push("agentos/issue-1")
    assert caught.value.exit_code == 2
    assert "cannot push to acme/widgets" in caught.value.message and "GITHUB_TOKEN" in caught.value.message


def test_check_push_for_unknown_repository(repo, fake):
    forge = GitHubForge(repo, RepoSlug("acme", "nope"), Token(TOKEN, "GH_TOKEN"), base_url=fake.url)
    with pytest.raises(UsageError, match="repository acme/nope not found .* GH_TOKEN"):
        forge.check_push("b")


def test_remote_branch_with_other_commits_is_refused(forge, fake, repo, origin, tmp_path, make_branch):
    other = push_from_another_clone(origin, "agentos/issue-1", tmp_path / "other")
    for action in (forge.check_push, forge.push_branch):
        with pytest.raises(UsageError) as caught:
            action("agentos/issue-1")
        assert "refusing to overwrite" in caught.value.message and "git fetch origin" in caught.value.hint
    make_branch("agentos/issue-1")
    with pytest.raises(UsageError, match="commits the local branch does not contain"):
        forge.push_branch("agentos/issue-1")
    remote_head = git(origin, "rev-parse", "agentos/issue-1")
    assert git(other, "rev-parse", "HEAD") == remote_head  # untouched


def test_push_fast_forwards_our_own_branch(forge, repo, origin, make_branch):
    make_branch("agentos/issue-2")
    forge.push_branch("agentos/issue-2")
    git(repo, "switch", "-q", "agentos/issue-2")
    git(repo, "commit", "-q", "--allow-empty", "-m", "more")
    git(repo, "switch", "-q", "main")
    forge.check_push("agentos/issue-2")
    forge.push_branch("agentos/issue-2")
    assert git(origin, "rev-parse", "agentos/issue-2") == git(repo, "rev-parse", "agentos/issue-2")


def test_push_of_a_missing_branch_is_a_usage_error(forge):
    with pytest.raises(UsageError, match="could not push nope"):
        forge.push_branch("nope")


# ----------------------------------------------------------- respx: error paths


@pytest.fixture
def api():
    with respx.mock(base_url="https://api.github.com", assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def gh(repo: Path, sleeps: list[float]) -> GitHubForge:
    return GitHubForge(repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url="https://api.github.com",
                       sleep=sleeps.append, clock=lambda: NOW, retries=2, rate_limit_wait_s=120)


ISSUE = {"number": 7, "title": "T", "body": "B", "state": "open", "labels": [], "comments": 0,
         "html_url": "https://github.com/acme/widgets/issues/7"}


def test_404_issue_is_an_unknown_issue(api, gh):
    api.get("/repos/acme/widgets/issues/7").respond(404, json={"message": "Not Found"})
    with pytest.raises(UnknownIssueError) as caught:
        gh.get_issue(7)
    assert caught.value.exit_code == 2 and "issue #7 not found in acme/widgets" in caught.value.message


def test_401_names_the_token_variable_and_is_not_retried(api, gh, sleeps, caplog):
    route = api.get("/repos/acme/widgets/issues/7").respond(401, json={"message": "Bad credentials"})
    with caplog.at_level(logging.DEBUG), pytest.raises(UsageError) as caught:
        gh.get_issue(7)
    assert caught.value.exit_code == 2
    assert "GITHUB_TOKEN" in caught.value.message and "expired" in caught.value.message
    assert route.call_count == 1 and sleeps == []
    assert TOKEN not in str(caught.value) + caplog.text


def test_403_primary_rate_limit_waits_for_a_near_reset(api, gh, sleeps):
    limited = httpx.Response(403, json={"message": "API rate limit exceeded"},
                             headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)})
    route = api.get("/repos/acme/widgets/issues/7").mock(side_effect=[limited, httpx.Response(200, json=ISSUE)])
    assert gh.get_issue(7).title == "T"
    assert sleeps == [31.0] and route.call_count == 2


def test_403_primary_rate_limit_with_a_far_reset_stops_with_the_reset_time(api, gh, sleeps):
    api.get("/repos/acme/widgets/issues/7").respond(
        403, json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)})
    with pytest.raises(ForgeUnavailableError) as caught:
        gh.get_issue(7)
    assert "resets at 09:00:00 UTC (in 60 min)" in caught.value.message  # NOW is 08:00 UTC
    assert "run the same command again" in caught.value.hint and sleeps == []


def test_secondary_rate_limit_backs_off_as_told(api, gh, sleeps):
    told = httpx.Response(403, json={"message": "You have exceeded a secondary rate limit"}, headers={"retry-after": "7"})
    too_many = httpx.Response(429, json={"message": "slow down"}, headers={"retry-after": "3"})
    route = api.get("/repos/acme/widgets/issues/7").mock(side_effect=[told, too_many, httpx.Response(200, json=ISSUE)])
    assert gh.get_issue(7).number == 7
    assert sleeps == [7.0, 3.0] and route.call_count == 3


def test_secondary_rate_limit_that_persists_stops_clearly(api, gh, sleeps):
    api.get("/repos/acme/widgets/issues/7").respond(403, json={"message": "secondary rate limit"},
                                                    headers={"retry-after": "5"})
    with pytest.raises(ForgeUnavailableError, match="secondary rate limit"):
        gh.get_issue(7)
    assert sleeps == [5.0, 5.0]  # retries=2


def test_422_pull_request_already_exists_returns_the_existing_one(api, gh):
    pr = {"number": 9, "title": "T", "body": "B", "state": "open", "draft": False, "merged_at": None,
          "head": {"ref": "feat"}, "base": {"ref": "main"}, "html_url": "https://github.com/acme/widgets/pull/9"}
    api.get("/repos/acme/widgets/pulls").mock(side_effect=[httpx.Response(200, json=[]), httpx.Response(200, json=[pr])])
    create = api.post("/repos/acme/widgets/pulls").respond(422, json={
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:feat."}]})
    found = gh.find_or_create_pr(head="feat", base="main", title="T", body="B")
    assert found.number == 9 and create.call_count == 1
    assert json.loads(create.calls[0].request.content)["head"] == "feat"


def test_422_for_another_reason_is_explained(api, gh):
    api.get("/repos/acme/widgets/pulls").respond(200, json=[])
    api.post("/repos/acme/widgets/pulls").respond(422, json={
        "message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}]})
    with pytest.raises(UsageError, match="refused to open a pull request from feat into main: 422 Validation Failed"):
        gh.find_or_create_pr(head="feat", base="main", title="T", body="B")


def test_server_errors_and_network_errors_are_retried_with_backoff(api, gh, sleeps):
    route = api.get("/repos/acme/widgets/issues/7").mock(side_effect=[
        httpx.Response(502, text="bad gateway"), httpx.ConnectError("connection refused"),
        httpx.Response(200, json=ISSUE)])
    assert gh.get_issue(7).number == 7
    assert sleeps == [1.0, 2.0] and route.call_count == 3


def test_network_errors_that_persist_end_in_a_clear_error(api, gh, sleeps):
    api.get("/repos/acme/widgets/issues/7").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ForgeUnavailableError) as caught:
        gh.get_issue(7)
    assert "could not read issue #7 at https://api.github.com" in caught.value.message
    assert "ConnectError" in caught.value.message and "after 3 attempts" in caught.value.message
    assert "continues where it stopped" in caught.value.hint and sleeps == [1.0, 2.0]


def test_403_without_rate_limit_says_which_access_is_missing(api, gh):
    api.post("/repos/acme/widgets/issues/7/labels").respond(403, json={"message": "Resource not accessible by integration"})
    with pytest.raises(UsageError) as caught:
        gh.add_labels(7, ["x"])
    assert "403 Resource not accessible by integration" in caught.value.message
    assert "Issues and Pull requests" in caught.value.hint


def test_draft_refused_by_the_repository_says_which_setting_to_change(api, gh):
    api.get("/repos/acme/widgets/pulls").respond(200, json=[])
    api.post("/repos/acme/widgets/pulls").respond(422, json={
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom",
                    "message": "Draft pull requests are not supported in this repository."}]})
    with pytest.raises(UsageError) as caught:
        gh.find_or_create_pr(head="feat", base="main", title="T", body="B", draft=True)
    assert "Draft pull requests are not supported" in caught.value.message and "pr_draft: false" in caught.value.hint


def test_a_token_from_gh_is_redacted_like_one_from_the_environment(repo, fake):
    from agentos.redact import redact

    GitHubForge(repo, SLUG, Token("gho_only_known_to_gh_cli", "`gh auth token`"), base_url=fake.url)
    assert "gho_only_known_to_gh_cli" not in redact("pushed with gho_only_known_to_gh_cli")


# --------------------------------------------- the token itself may push (git over HTTP)

@pytest.fixture
def http_repo(tmp_path: Path, origin: Path, fake: FakeGitHub) -> Path:
    """A clone whose origin is the fake GitHub's git URL over HTTP, as on github.com."""
    root = make_repo(tmp_path / "http-clone")
    git(root, "push", "-q", str(origin), "main")
    git(root, "remote", "add", "origin", f"{fake.web}.git")
    return root


def test_a_token_that_may_not_write_contents_is_refused_by_a_dry_run_push(http_repo, fake, origin):
    fake.token_can_push = False  # a fine-grained token with Contents: read only; the user is an admin
    assert fake.repo_permissions["push"]
    forge = GitHubForge(http_repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url)
    with pytest.raises(UsageError) as caught:
        forge.check_push("agentos/issue-1")
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith("the token from GITHUB_TOKEN cannot push to acme/widgets; a dry-run push")
    assert "Permission to acme/widgets.git denied to agentos-bot" in caught.value.message
    assert "Contents → Read and write" in caught.value.hint and TOKEN not in str(caught.value)
    assert git(origin, "for-each-ref", "--format=%(refname)", "refs/heads").split() == ["refs/heads/main"]


def test_a_token_that_may_write_passes_the_dry_run_and_nothing_is_sent(http_repo, fake, origin, tmp_path):
    forge = GitHubForge(http_repo, SLUG, Token(TOKEN, "GITHUB_TOKEN"), base_url=fake.url)
    forge.check_push("agentos/issue-1")
    assert "GET /info/refs?service=git-receive-pack" in fake.git_requests
    assert not any(r.startswith("POST /git-receive-pack") for r in fake.git_requests)
    assert git(origin, "for-each-ref", "--format=%(refname)", "refs/heads").split() == ["refs/heads/main"]
    sha = git(http_repo, "commit-tree", "main^{tree}", "-p", "main", "-m", "work").strip()
    git(http_repo, "branch", "agentos/issue-1", sha)
    forge.check_push("agentos/issue-1")
    forge.push_branch("agentos/issue-1")  # the real push through the same path
    assert git(origin, "rev-parse", "agentos/issue-1").strip() == sha


def test_open_issues_are_read_across_pages(forge, fake, monkeypatch):
    monkeypatch.setattr("agentos.forge.github.PER_PAGE", 2)
    numbers = [fake.add_issue(f"issue {n}", labels=["agentos"] if n % 2 else []) for n in range(5)]
    fake.add_issue("closed one", state="closed")
    assert [i.number for i in forge.open_issues()] == numbers
    assert [i.number for i in forge.open_issues("agentos")] == numbers[1::2]
