"""The issue worktrees: created or reused, owned by agentos, never the user's checkout.

`ensure_worktree` makes (or re-attaches) the linked worktree of an issue's work branch, with
an ownership record beside it so a same-named branch agentos did not make is refused; the
helpers below move a worktree's `Checkout` between its branch and the base commit.

A process can die inside `git worktree add` (killed, or Ctrl-C at the terminal): the branch is
then made but the worktree is not, or the worktree is registered but only partly checked out
(git keeps it locked as "initializing" until the checkout is done). The ownership record is
written before git starts, so the branch is re-attached; a half-made worktree is removed and
made again, never used: committing from it would delete every file it had not yet written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from agentos.errors import UsageError
from agentos.files import write_atomic
from agentos.repo.git import Checkout, Git, GitError

HALF_MADE = "initializing"
"""The lock reason git gives a worktree while `git worktree add` is still checking it out."""


@dataclass(frozen=True)
class WorktreeInfo:
    path: Path
    branch: str | None  # short name; None when detached
    locked: str | None = None
    """Why the worktree is locked ("" when no reason was given); None when it is not."""


def list_worktrees(git: Git) -> list[WorktreeInfo]:
    """Worktrees of the repository, the main one first."""
    found: list[WorktreeInfo] = []
    path: Path | None = None
    branch = locked = None
    for line in [*git.run("worktree", "list", "--porcelain").splitlines(), ""]:
        if line.startswith("worktree "):
            path, branch, locked = Path(line.removeprefix("worktree ")), None, None
        elif line.startswith("branch "):
            branch = line.removeprefix("branch ").removeprefix("refs/heads/")
        elif line == "locked" or line.startswith("locked "):
            locked = line.removeprefix("locked").strip()
        elif not line and path is not None:
            found.append(WorktreeInfo(path, branch, locked))
            path = None
    return found


def default_branch(git: Git) -> str:
    """The branch work should start from: origin's HEAD, else the main checkout's branch."""
    if "origin" in git.remotes():
        target = git.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False)
        if target.startswith("origin/"):
            return target.removeprefix("origin/")
    worktrees = list_worktrees(git)
    if worktrees and worktrees[0].branch:
        return worktrees[0].branch
    for name in ("main", "master"):
        if git.branch_exists(name):
            return name
    return "main"


def ensure_worktree(repo_root: Path, path: Path, branch: str, base: str, continue_from: str | None = None) -> Path:
    """A worktree of `repo_root` at `path` with `branch` checked out, created if needed.

    An existing worktree on `branch` is reused untouched (uncommitted work survives). A new
    branch starts at `base`, and a record beside the worktree (`<path>.owner.json`) notes that
    we made it, so a later run re-attaches that branch but refuses a same-named branch it did
    not make. Anything in the way raises UsageError saying what to do; nothing is ever
    deleted or forced. `continue_from` (e.g. `origin/agentos/issue-7`, pushed by a run of the same
    issue on another machine, when the state is shared): where the new branch starts, if it exists.
    """
    git = Git(repo_root)
    git.run("worktree", "prune")
    _check_branch_name(git, branch)
    worktrees = list_worktrees(git)
    target = path.resolve()
    mine = next((w for w in worktrees if w.path.resolve() == target), None)
    if mine is not None and mine.locked == HALF_MADE:
        _check_made_by_us(path, branch)
        _remove_half_made(git, path)
        worktrees = list_worktrees(git)
    elif mine is not None:
        return _reuse(mine, worktrees[0], path, branch)
    _check_path_free(path, repo_root)
    holder = next((w for w in worktrees if w.branch == branch), None)
    if holder is not None:
        raise _branch_busy(branch, holder, worktrees[0], path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Parallel checkout: on large repositories writing the files is most of the time.
    add = ["-c", "checkout.workers=0", "worktree", "add", "--quiet"]
    if git.branch_exists(branch):
        _check_made_by_us(path, branch)
        git.run(*add, str(path), branch)
    else:
        shared = continue_from and git.rev_parse(f"{continue_from}^{{commit}}")
        start = continue_from if shared else start_point(git, base)
        # Recorded first: git makes the branch before the worktree, and may die in between.
        write_atomic(_owner_record(path), json.dumps({"branch": branch, "base": base,
                                                       "start": git.rev_parse(start)}) + "\n")
        try:
            git.run(*add, "--no-track", "-b", branch, str(path), start)
        except GitError:
            if not git.branch_exists(branch):
                _owner_record(path).unlink(missing_ok=True)
            raise
    return path


def half_made(git: Git, path: Path) -> bool:
    """Whether `path` is a worktree `git worktree add` did not finish (its process died)."""
    target = path.resolve()
    return any(w.path.resolve() == target and w.locked == HALF_MADE for w in list_worktrees(git))


def _remove_half_made(git: Git, path: Path) -> None:
    """Remove a worktree `git worktree add` did not finish: nothing in it was ever work to keep.
    Its `.git` file may be missing too (the process died early, or while it was being removed)."""
    if git.ok("worktree", "remove", "--force", "--force", str(path)):
        return
    git.run("worktree", "unlock", str(path))
    shutil.rmtree(path, ignore_errors=True)
    git.run("worktree", "prune")


def remove_stale_locks(worktree: Path, branch: str) -> list[Path]:
    """Remove the lock files a git command killed in `worktree` left (its index and HEAD, the
    branch's ref), which make git refuse every later command; the files removed. Only for a
    caller that knows no other git command works there now (it holds the issue's run lock)."""
    if not (worktree / ".git").exists():
        return []
    git = Git(worktree)
    own = Path(git.run("rev-parse", "--absolute-git-dir"))
    common = Path(git.run("rev-parse", "--path-format=absolute", "--git-common-dir"))
    removed = []
    for lock in (own / "index.lock", own / "HEAD.lock", common / "refs" / "heads" / f"{branch}.lock"):
        with suppress(FileNotFoundError):
            lock.unlink()
            removed.append(lock)
    return removed


def _owner_record(path: Path) -> Path:
    return path.parent / f"{path.name}.owner.json"


def _check_made_by_us(path: Path, branch: str) -> None:
    """Refuse to adopt an existing branch that an earlier run for this worktree did not create."""
    try:
        made = json.loads(_owner_record(path).read_text(encoding="utf-8")).get("branch")
    except (OSError, ValueError, AttributeError):
        made = None
    if made != branch:
        raise UsageError(
            f"branch {branch} already exists, but it was not created by agentos for {path}",
            f"if it is not needed, rename it (`git branch -m {branch} {branch}-old`) so a fresh "
            "one is made; or choose other branch names with orchestrator.branch_prefix",
        )


def _check_branch_name(git: Git, branch: str) -> None:
    if not branch or not git.ok("check-ref-format", "--branch", branch):
        raise UsageError(f"{branch!r} is not a valid branch name",
                         "set orchestrator.branch_prefix to something like `agentos/issue-`")


def _reuse(mine: WorktreeInfo, main: WorktreeInfo, path: Path, branch: str) -> Path:
    if mine.path.resolve() == main.path.resolve():
        raise UsageError(f"{path} is the repository's main checkout, not a separate worktree",
                         "give the worktree a directory of its own, e.g. under .agentos/worktrees/")
    if not (path / ".git").exists():
        raise UsageError(f"{path} is registered as a worktree but its directory is missing",
                         f"it is probably locked: run `git worktree unlock {path}` "
                         "and `git worktree prune`, then retry")
    if mine.branch != branch:
        on = f"branch {mine.branch}" if mine.branch else "a detached HEAD"
        raise UsageError(
            f"worktree {path} is on {on}, not {branch}",
            f"switch it back with `git -C {path} switch {branch}`, or, once nothing in it is "
            f"needed, remove it with `git worktree remove {path}`",
        )
    return path


def _check_path_free(path: Path, repo_root: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(
            f"{path} exists and is not a worktree of {repo_root}",
            f"move it aside (`mv {path} {path}.old`) or delete it if nothing in it is needed, "
            "then retry",
        )


def _branch_busy(branch: str, holder: WorktreeInfo, main: WorktreeInfo, path: Path) -> UsageError:
    if holder.path.resolve() == main.path.resolve():
        todo = ("switch your checkout to another branch (`git switch <other-branch>`), or "
                f"rename the branch with `git branch -m {branch} {branch}-old`")
    else:
        todo = (f"remove that worktree with `git worktree remove {holder.path}` (commit what "
                f"you need first), or rename the branch with `git branch -m {branch} {branch}-old`")
    return UsageError(f"branch {branch} is already checked out at {holder.path}, so it cannot "
                      f"also be checked out at {path}", todo)


def fork_point(git: Git, base: str) -> str:
    """The commit where the checked-out branch left `base` (or its origin counterpart)."""
    for ref in (base, f"origin/{base}"):
        if git.rev_parse(f"{ref}^{{commit}}") and (sha := git.merge_base(ref, "HEAD")):
            return sha
    raise UsageError(f"the work branch in {git.cwd} shares no history with base branch {base!r}",
                     "set orchestrator.base_branch to the branch the work started from")


@contextmanager
def checked_out_at(git: Checkout, sha: str, branch: str) -> Iterator[None]:
    """Within the block the (clean) worktree holds `sha` on a detached HEAD; afterwards it is
    cleaned (files the block made are removed, ignored ones kept) and back on `branch`."""
    git.switch_detached(sha)
    try:
        yield
    finally:
        back_on_branch(git, branch)


def back_on_branch(git: Checkout, branch: str) -> None:
    """Undo a detached checkout left by `checked_out_at`, e.g. by a run killed inside it."""
    if git.current_branch() != branch:
        git.restore("HEAD")
        git.switch(branch)


def start_point(git: Git, base: str) -> str:
    """`base` if it exists locally, else its origin counterpart; UsageError listing the branches there are."""
    for ref in (base, f"origin/{base}"):
        if git.rev_parse(f"{ref}^{{commit}}"):
            return ref
    names = git.run("for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes", check=False).split()
    shown = ", ".join(n for n in names if not n.endswith("/HEAD")) or "none (the repository has no commits)"
    raise UsageError(f"base branch {base!r} does not exist in {git.cwd}; existing branches: {shown}",
                     "pass --base-branch with an existing branch (or set orchestrator.base_branch)")
