"""agentos.repo.git against real repositories made in tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agentos.errors import UsageError
from agentos.repo.git import Checkout, Git, GitError
from agentos.repo.worktrees import checked_out_at, default_branch, ensure_worktree, fork_point, remove_stale_locks
from tests.helpers.repos import git

BRANCH = "agentos/issue-1"


def sh_git(cwd: Path, *args: str) -> str:
    """git's output, trimmed (these tests name `Git` objects `git`)."""
    return git(cwd, *args).strip()


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty global git config and HOME instead of the session's test identity: these tests
    decide the identity themselves (the rest of the hermetic settings still apply)."""
    home = tmp_path / "home"
    home.mkdir()
    global_config = home / ".gitconfig"
    global_config.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    return global_config


def make_repo(root: Path, branch: str = "main", identity: bool = True) -> Path:
    root.mkdir(parents=True)
    sh_git(root, "init", "-q", "-b", branch)
    if identity:
        sh_git(root, "config", "user.name", "Test User")
        sh_git(root, "config", "user.email", "test@example.invalid")
    (root / "README.md").write_text("hello\n")
    sh_git(root, "add", "-A")
    sh_git(root, "-c", "user.name=seed", "-c", "user.email=seed@example.invalid",
           "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def main_checkout_state(root: Path) -> tuple[str, str, str]:
    return (sh_git(root, "rev-parse", "HEAD"), sh_git(root, "symbolic-ref", "HEAD"),
            sh_git(root, "status", "--porcelain", "--untracked-files=all"))


# --- ensure_worktree -----------------------------------------------------------------------


def test_new_worktree_and_commits_leave_the_main_checkout_untouched(repo: Path, tmp_path: Path):
    (repo / "README.md").write_text("user's own edit\n")
    (repo / "notes.txt").write_text("untracked, the user's\n")
    before = main_checkout_state(repo)
    wt = tmp_path / "worktrees" / "1"

    assert ensure_worktree(repo, wt, BRANCH, "main") == wt
    (wt / "feature.py").write_text("x = 1\n")
    sha = Checkout(wt).commit_all("add feature")
    (wt / "README.md").write_text("changed on the branch\n")
    Checkout(wt).commit_all("change readme")

    assert main_checkout_state(repo) == before
    assert (repo / "README.md").read_text() == "user's own edit\n"
    assert not (repo / "feature.py").exists()
    assert Checkout(wt).current_branch() == BRANCH
    assert sha is not None and Git(repo).rev_parse(f"{BRANCH}~1") == sha
    assert Git(repo).rev_parse(f"{BRANCH}~2") == before[0]


def test_reuse_keeps_uncommitted_work(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "half-done.py").write_text("work in progress\n")
    (wt / "README.md").write_text("edited, not committed\n")

    assert ensure_worktree(repo, tmp_path / "wt", BRANCH, "main") == wt

    assert (wt / "half-done.py").read_text() == "work in progress\n"
    assert (wt / "README.md").read_text() == "edited, not committed\n"
    assert Checkout(wt).dirty_paths()


def test_worktree_deleted_by_hand_is_recreated_on_the_existing_branch(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "kept.txt").write_text("committed\n")
    sha = Checkout(wt).commit_all("keep")
    shutil.rmtree(wt)

    ensure_worktree(repo, wt, BRANCH, "main")

    assert Checkout(wt).head() == sha
    assert (wt / "kept.txt").read_text() == "committed\n"


def test_our_branch_is_checked_out_again_in_a_new_worktree(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "work.txt").write_text("x\n")
    branch_sha = Checkout(wt).commit_all("work")
    sh_git(repo, "worktree", "remove", str(wt))
    (repo / "later.txt").write_text("x\n")
    sh_git(repo, "add", "-A")
    sh_git(repo, "commit", "-q", "-m", "main moves on")

    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")

    assert Checkout(wt).head() == branch_sha != Git(repo).head()


def test_a_worktree_left_half_made_by_git_is_made_again(repo: Path, tmp_path: Path):
    """What a process killed inside `git worktree add` leaves: registered, locked as initializing,
    files missing. (tests/workflows/test_crashes.py kills a real one.)"""
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    admin = Path(sh_git(wt, "rev-parse", "--absolute-git-dir").strip())
    (admin / "locked").write_text("initializing")
    (wt / "README.md").unlink()

    assert ensure_worktree(repo, wt, BRANCH, "main") == wt
    assert (wt / "README.md").is_file() and Checkout(wt).dirty_paths() == []
    assert not (admin / "locked").exists()


def test_a_half_made_worktree_without_its_git_file_is_made_again(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    admin = Path(sh_git(wt, "rev-parse", "--absolute-git-dir").strip())
    (admin / "locked").write_text("initializing")
    (wt / ".git").unlink()

    assert ensure_worktree(repo, wt, BRANCH, "main") == wt
    assert (wt / "README.md").is_file() and Checkout(wt).dirty_paths() == []


def test_a_half_made_worktree_of_a_branch_agentos_did_not_make_is_refused(repo: Path, tmp_path: Path):
    wt = tmp_path / "wt"
    sh_git(repo, "worktree", "add", "-q", "-b", BRANCH, str(wt))
    (Path(sh_git(wt, "rev-parse", "--absolute-git-dir").strip()) / "locked").write_text("initializing")

    with pytest.raises(UsageError, match="not created by agentos"):
        ensure_worktree(repo, wt, BRANCH, "main")
    assert (wt / "README.md").is_file()


def test_lock_files_a_killed_git_left_in_the_worktree_are_removed(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    admin = Path(sh_git(wt, "rev-parse", "--absolute-git-dir").strip())
    locks = [admin / "index.lock", admin / "HEAD.lock", repo / ".git" / "refs" / "heads" / f"{BRANCH}.lock"]
    for lock in locks:
        lock.write_text("")
    (wt / "feature.py").write_text("x = 1\n")
    with pytest.raises(GitError, match="Another git process"):
        Checkout(wt).commit_all("add feature")

    assert remove_stale_locks(wt, BRANCH) == locks
    assert Checkout(wt).commit_all("add feature") and remove_stale_locks(wt, BRANCH) == []


def test_refuses_a_same_named_branch_it_did_not_make(repo: Path, tmp_path: Path):
    sh_git(repo, "branch", BRANCH)

    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")

    assert "was not created by agentos" in info.value.message
    assert f"git branch -m {BRANCH} {BRANCH}-old" in info.value.hint
    assert not (tmp_path / "wt").exists()
    assert sh_git(repo, "worktree", "list").count("\n") == 0  # only the main checkout


def test_checked_out_at_returns_to_the_branch_and_drops_what_the_block_made(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "feature.py").write_text("x = 1\n")
    head = Checkout(wt).commit_all("feature")
    base = fork_point(Checkout(wt), "main")

    with checked_out_at(Checkout(wt), base, BRANCH):
        assert not (wt / "feature.py").exists() and Checkout(wt).current_branch() is None
        (wt / "made-by-a-test-run.txt").write_text("junk\n")
        (wt / "README.md").write_text("scribbled\n")

    assert Checkout(wt).current_branch() == BRANCH and Checkout(wt).head() == head
    assert not (wt / "made-by-a-test-run.txt").exists() and Checkout(wt).dirty_paths() == []
    assert base == Git(repo).head()


def test_changed_since_sees_commits_edits_deletions_and_new_files(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    start = Checkout(wt).head()
    (wt / "committed.txt").write_text("c\n")
    Checkout(wt).commit_all("c")
    (wt / "README.md").unlink()
    (wt / "new dir").mkdir()
    (wt / "new dir" / "n.txt").write_text("n\n")
    (wt / ".gitignore").write_text("ignored.txt\n")
    (wt / "ignored.txt").write_text("i\n")

    assert Checkout(wt).changed_since(start) == [".gitignore", "README.md", "committed.txt", "new dir/n.txt"]
    assert Checkout(wt).words_in("main", ["hello", "hell", "nowhere"]) == {"hello"}
    assert Checkout(wt).words_in("main", ["hello"], exclude=["**/*.md"]) == set()
    assert Checkout(wt).messages(f"{start}..HEAD") == ["c"]


def test_new_branch_can_start_from_origin_when_base_is_only_remote(repo: Path, tmp_path: Path):
    clone = tmp_path / "clone"
    sh_git(tmp_path, "clone", "-q", str(repo), str(clone))
    sh_git(clone, "switch", "-q", "-c", "other")
    sh_git(clone, "branch", "-q", "-D", "main")

    wt = ensure_worktree(clone, tmp_path / "wt", BRANCH, "main")

    assert Checkout(wt).head() == Git(repo).head()
    assert Checkout(wt).run("config", "--get", f"branch.{BRANCH}.merge", check=False) == ""


def test_refuses_a_path_that_is_not_a_worktree(repo: Path, tmp_path: Path):
    blocker = tmp_path / "wt"
    blocker.mkdir()
    (blocker / "precious.txt").write_text("mine\n")

    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, blocker, BRANCH, "main")

    assert "not a worktree" in info.value.message
    assert str(blocker) in info.value.hint
    assert (blocker / "precious.txt").read_text() == "mine\n"
    assert not Git(repo).branch_exists(BRANCH)


def test_refuses_a_worktree_on_another_branch(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", "agentos/issue-2", "main")
    (wt / "wip.txt").write_text("uncommitted\n")

    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, wt, BRANCH, "main")

    assert "agentos/issue-2" in info.value.message
    assert f"git worktree remove {wt}" in info.value.hint
    assert (wt / "wip.txt").exists()
    assert not Git(repo).branch_exists(BRANCH)


def test_refuses_a_branch_checked_out_in_another_worktree(repo: Path, tmp_path: Path):
    first = ensure_worktree(repo, tmp_path / "first", BRANCH, "main")

    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, tmp_path / "second", BRANCH, "main")

    assert str(first) in info.value.message
    assert f"git worktree remove {first}" in info.value.hint
    assert f"git branch -m {BRANCH}" in info.value.hint
    assert not (tmp_path / "second").exists()


def test_refuses_the_branch_the_user_has_checked_out(repo: Path, tmp_path: Path):
    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, tmp_path / "wt", "main", "main")

    assert "git switch" in info.value.hint
    assert Git(repo).current_branch() == "main"


def test_refuses_a_missing_base(repo: Path, tmp_path: Path):
    with pytest.raises(UsageError) as info:
        ensure_worktree(repo, tmp_path / "wt", BRANCH, "no-such-base")

    assert "no-such-base" in info.value.message
    assert not Git(repo).branch_exists(BRANCH)


# --- commits and identity ------------------------------------------------------------------


def test_commit_all_returns_none_when_there_is_nothing_to_commit(repo: Path):
    git = Checkout(repo)
    head = git.head()

    assert git.commit_all("nothing") is None
    assert git.head() == head

    (repo / "new.txt").write_text("new\n")
    sha = git.commit_all("add new")
    assert sha == git.head() != head
    assert git.dirty_paths() == []
    assert git.commit_all("again nothing") is None


def test_commit_without_any_identity_uses_the_fallback_and_writes_no_config(
    tmp_path: Path, no_git_identity: Path
):
    root = make_repo(tmp_path / "anon", identity=False)
    config_before = (root / ".git" / "config").read_text()
    (root / "a.txt").write_text("a\n")

    sha = Checkout(root).commit_all("anonymous commit")

    assert sha is not None
    who = sh_git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>")
    assert who == "agentos <agentos@localhost>|agentos <agentos@localhost>"
    assert (root / ".git" / "config").read_text() == config_before
    assert no_git_identity.read_text() == ""


def test_commit_keeps_the_configured_name_when_only_email_is_missing(tmp_path: Path):
    root = make_repo(tmp_path / "half", identity=False)
    sh_git(root, "config", "user.name", "Ada")
    (root / "a.txt").write_text("a\n")

    Checkout(root).commit_all("half identity")

    assert sh_git(root, "log", "-1", "--format=%an <%ae>") == "Ada <agentos@localhost>"


def test_configured_identity_is_used(repo: Path):
    (repo / "a.txt").write_text("a\n")
    Checkout(repo).commit_all("mine")
    assert sh_git(repo, "log", "-1", "--format=%an <%ae>") == "Test User <test@example.invalid>"


# --- queries -------------------------------------------------------------------------------


def test_default_branch_is_the_main_checkouts_branch(tmp_path: Path):
    root = make_repo(tmp_path / "trunk-repo", branch="trunk")
    wt = ensure_worktree(root, tmp_path / "wt", BRANCH, "trunk")

    assert default_branch(Git(root)) == "trunk"
    assert default_branch(Checkout(wt)) == "trunk"  # not the worktree's own branch


def test_default_branch_follows_origin_head(repo: Path, tmp_path: Path):
    clone = tmp_path / "clone"
    sh_git(tmp_path, "clone", "-q", str(repo), str(clone))
    sh_git(clone, "switch", "-q", "-c", "elsewhere")

    assert default_branch(Git(clone)) == "main"
    assert Git(clone).remotes() == {"origin": str(repo)}


def test_default_branch_on_a_detached_head_falls_back_to_master(tmp_path: Path):
    root = make_repo(tmp_path / "old", branch="master")
    sh_git(root, "switch", "-q", "--detach")

    assert Git(root).current_branch() is None
    assert default_branch(Git(root)) == "master"


def test_show_file_reads_a_ref_and_returns_none_when_absent(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "docs").mkdir()
    (wt / "docs" / "lld.md").write_text("# design\n")
    Checkout(wt).commit_all("design")
    git = Checkout(repo)

    assert git.show_file(BRANCH, "docs/lld.md") == "# design\n"
    assert git.show_file("main", "docs/lld.md") is None
    assert git.show_file("main", "README.md") == "hello\n"
    assert git.show_file("no-such-ref", "README.md") is None
    assert git.show_file(BRANCH, "docs") is None  # a directory is not a file


def test_changed_files_show_what_the_branch_adds(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "README.md").write_text("hello\nnew line\n")
    (wt / "src dir").mkdir()
    (wt / "src dir" / "naïve.py").write_text("pass\n")
    Checkout(wt).commit_all("work")
    # main moving on afterwards must not show up as a change of the branch
    (repo / "main-only.txt").write_text("x\n")
    sh_git(repo, "add", "-A")
    sh_git(repo, "commit", "-q", "-m", "main moves")

    git = Checkout(wt)
    assert sorted(git.changed_files("main")) == ["README.md", "src dir/naïve.py"]
    assert git.changed_files("HEAD") == []


def test_ref_queries(repo: Path):
    git = Checkout(repo)
    head = git.head()

    assert git.rev_parse("main") == head
    assert git.rev_parse("does-not-exist") is None
    assert git.rev_parse("--all") is None
    assert git.current_branch() == "main"
    assert git.branch_exists("main")
    assert not git.branch_exists("nope")
    assert git.remotes() == {}


def test_dirty_paths_counts_untracked_files(repo: Path):
    git = Checkout(repo)
    assert git.dirty_paths() == []
    (repo / "sub").mkdir()
    (repo / "sub" / "untracked.txt").write_text("x\n")
    assert git.dirty_paths() == ["sub/untracked.txt"]


def test_reset_hard_in_a_worktree(repo: Path, tmp_path: Path):
    wt = ensure_worktree(repo, tmp_path / "wt", BRANCH, "main")
    (wt / "a.txt").write_text("a\n")
    Checkout(wt).commit_all("a")
    (wt / "README.md").write_text("dirty\n")

    Checkout(wt).reset_hard("main")

    assert Checkout(wt).head() == Git(repo).head()
    assert (wt / "README.md").read_text() == "hello\n"
    assert not (wt / "a.txt").exists()


def test_failures_raise_git_error_with_details(repo: Path):
    with pytest.raises(GitError) as info:
        Git(repo).run("rev-parse", "--verify", "no-such-ref")

    err = info.value
    assert err.exit_code == 1
    assert err.returncode != 0
    assert err.command == ["git", "rev-parse", "--verify", "no-such-ref"]
    assert "no-such-ref" in str(err) or "Needed a single revision" in err.stderr
    assert Git(repo).run("rev-parse", "--verify", "no-such-ref", check=False) == ""


def test_dirty_paths_lists_every_kind_of_change(repo: Path):
    git = Checkout(repo)
    assert git.dirty_paths() == []
    (repo / "README.md").write_text("changed\n")
    (repo / "new file.txt").write_text("n\n")
    (repo / "a.txt").write_text("a\n")
    sh_git(repo, "add", "a.txt")
    sh_git(repo, "commit", "-q", "-m", "a")
    sh_git(repo, "mv", "a.txt", "b.txt")

    assert sorted(git.dirty_paths()) == ["README.md", "b.txt", "new file.txt"]


def test_env_replaces_the_environment_git_sees(repo: Path):
    probe = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "agentos.probe", "GIT_CONFIG_VALUE_0": "yes"}
    assert Git(repo, env={**os.environ, **probe}).run("config", "agentos.probe") == "yes"
    assert Git(repo).run("config", "agentos.probe", check=False) == ""


def test_a_command_past_its_timeout_is_stopped_and_reported_as_exit_124(repo: Path):
    git = Git(repo, timeout_s=0.5)
    proc = git.call("-c", "alias.slow=!sleep 3", "slow")
    assert proc.returncode == 124 and "timed out after" in proc.stderr
    with pytest.raises(GitError) as info:
        git.run("-c", "alias.slow=!sleep 3", "slow")
    assert info.value.returncode == 124


def test_call_keeps_the_whole_output_and_ok_answers_with_the_exit_code(repo: Path):
    git = Checkout(repo)
    assert git.call("ls-files", "-z").stdout == "README.md\0"
    assert git.ok("rev-parse", "--verify", "HEAD") and not git.ok("rev-parse", "--verify", "nope")
