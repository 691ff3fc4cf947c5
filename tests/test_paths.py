"""Finding the target repository: from inside it, and from inside one of agentos's issue worktrees."""

from __future__ import annotations

from agentos.paths import find_repo_root

from tests.helpers.repos import git


def test_from_inside_an_issue_worktree_the_repository_is_the_one_that_owns_it(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    worktree = repo / ".agentos" / "worktrees" / "7"
    git(repo, "worktree", "add", "-q", "-b", "agentos/issue-7", str(worktree))
    (worktree / "src").mkdir()
    assert find_repo_root(worktree / "src") == repo.resolve()
    assert find_repo_root(repo) == repo.resolve()


def test_any_other_worktree_is_its_own_root(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    other = tmp_path / "elsewhere"
    git(repo, "worktree", "add", "-q", "-b", "topic", str(other))
    assert find_repo_root(other) == other.resolve()
