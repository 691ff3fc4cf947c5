"""A thin, typed wrapper over the `git` command line, and the issue worktree.

`Git` is the one place agentos runs `git` as a subprocess. Nothing writes git config (global or per
repository) and nothing touches the user's own checkout: work happens in linked
worktrees that `ensure_worktree` creates or reuses.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agentos.errors import AgentosError, UsageError
from agentos.files import write_atomic

FALLBACK_NAME = "agentos"
FALLBACK_EMAIL = "agentos@localhost"


class GitError(AgentosError):
    """A git command failed; carries the command, its exit code and its stderr."""

    exit_code = 1

    def __init__(self, command: list[str], returncode: int, stderr: str, hint: str | None = None):
        detail = stderr.strip().splitlines()
        shown = "\n".join(detail[-5:]) if detail else "(no error output)"
        super().__init__(f"`{' '.join(command)}` failed (exit {returncode}): {shown}", hint)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


class Git:
    """Runs git commands in one directory (a repository or one of its worktrees).

    `env` replaces the inherited environment (e.g. to add a credential helper); git never
    prompts either way. A command still running after `timeout_s` is stopped and reported as
    exit 124.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None, timeout_s: float | None = None):
        self.cwd = Path(cwd)
        self.env = env
        self.timeout_s = timeout_s

    def run(self, *args: str, check: bool = True) -> str:
        """Run `git ARGS...`; stdout stripped. Raises GitError on failure when `check`."""
        return self.call(*args, check=check).stdout.strip()

    def call(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `git ARGS...` and return the whole result (stdout unstripped, stderr, exit code).

        Raises GitError when git cannot start, and on failure when `check`.
        """
        command = ["git", *args]
        env = {**(os.environ if self.env is None else self.env), "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                command, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, timeout=self.timeout_s,
                capture_output=True, text=True, encoding="utf-8", errors="replace",
            )
        except FileNotFoundError as exc:
            missing = "git" if self.cwd.is_dir() else str(self.cwd)
            raise GitError(command, 127, f"{missing}: {exc.strerror}",
                           "install git and make sure it is on PATH") from None
        except subprocess.TimeoutExpired:
            proc = subprocess.CompletedProcess(command, 124, "", f"operation timed out after {self.timeout_s:.0f}s")
        if check and proc.returncode != 0:
            raise GitError(command, proc.returncode, proc.stderr)
        return proc

    def ok(self, *args: str) -> bool:
        """Whether `git ARGS...` succeeds (for questions git answers with its exit code)."""
        return self.call(*args).returncode == 0

    # --- refs ---------------------------------------------------------------------------

    def head(self) -> str:
        """The sha HEAD points at."""
        return self.run("rev-parse", "--verify", "HEAD")

    def rev_parse(self, ref: str) -> str | None:
        """The sha `ref` names, or None when it names nothing."""
        if not ref or ref.startswith("-"):
            return None
        proc = self.call("rev-parse", "--verify", "--quiet", ref)
        return _output_if_ok(proc)

    def current_branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        proc = self.call("symbolic-ref", "--quiet", "--short", "HEAD")
        return _output_if_ok(proc)

    def branch_exists(self, name: str) -> bool:
        """Whether a local branch called `name` exists."""
        return bool(name) and self.ok("show-ref", "--verify", "--quiet", f"refs/heads/{name}")

    def default_branch(self) -> str:
        """The branch work should start from: origin's HEAD, else the main checkout's branch."""
        if "origin" in self.remotes():
            target = self.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD",
                              check=False)
            if target.startswith("origin/"):
                return target.removeprefix("origin/")
        worktrees = list_worktrees(self)
        if worktrees and worktrees[0].branch:
            return worktrees[0].branch
        for name in ("main", "master"):
            if self.branch_exists(name):
                return name
        return "main"

    def remotes(self) -> dict[str, str]:
        """Remote name → fetch URL."""
        out = self.run("config", "--get-regexp", r"^remote\..*\.url$", check=False)
        result: dict[str, str] = {}
        for line in out.splitlines():
            key, _, url = line.partition(" ")
            result[key.removeprefix("remote.").removesuffix(".url")] = url
        return result

    # --- working tree -------------------------------------------------------------------

    def dirty_paths(self) -> list[str]:
        """Paths with staged, unstaged or untracked (not ignored) changes."""
        entries = self.call("status", "--porcelain", "-z", "--untracked-files=all", check=True).stdout.split("\0")
        paths, skip = [], False
        for entry in entries:
            if skip or len(entry) < 4:
                skip = False
                continue
            paths.append(entry[3:])
            skip = entry[0] in "RC"  # a rename or copy is followed by its source path
        return paths

    def commit_all(self, message: str, allow_empty: bool = False) -> str | None:
        """Stage everything and commit; the new sha, or None when there was nothing to commit
        (unless `allow_empty`: then the commit records `message` on its own)."""
        self.run("add", "-A")
        if not allow_empty and self.ok("diff", "--cached", "--quiet"):
            return None
        self.run(*self._identity_args(), "commit", "--quiet", "--allow-empty", "-m", message)
        return self.head()

    def _identity_args(self) -> list[str]:
        """`-c user.x=…` for whichever of user.name / user.email is not configured."""
        out = self.run("config", "--get-regexp", r"^user\.(name|email)$", check=False)
        configured = {line.split(" ", 1)[0] for line in out.splitlines() if " " in line}
        return [arg for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL))
                if key not in configured for arg in ("-c", f"{key}={fallback}")]

    def reset_hard(self, ref: str) -> None:
        """Discard all changes and move the branch to `ref`. Only for our own worktrees."""
        self.run("reset", "--quiet", "--hard", ref)

    def restore(self, ref: str) -> None:
        """Make the working tree exactly `ref`: reset, and remove untracked files that are not
        ignored (ignored ones, such as a virtual environment, stay). Only for our own worktrees."""
        self.reset_hard(ref)
        self.run("clean", "--quiet", "-d", "--force")

    def soft_reset(self, ref: str) -> None:
        """Move the branch to `ref`, keeping every change since as staged work (to squash)."""
        self.run("reset", "--quiet", "--soft", ref)

    def switch(self, branch: str) -> None:
        """Check out `branch` (the worktree must be clean)."""
        self.run("switch", "--quiet", branch)

    def switch_detached(self, ref: str) -> None:
        """Check out `ref` on a detached HEAD (the worktree must be clean)."""
        self.run("switch", "--quiet", "--detach", ref)

    def checkout_paths(self, ref: str, paths: list[str]) -> None:
        """Put `paths` back to their content at `ref`."""
        if paths:
            self.run("checkout", "--quiet", ref, "--", *paths)

    # --- content ------------------------------------------------------------------------

    def show_file(self, ref: str, path: str) -> str | None:
        """The content of `path` (repository-relative) at `ref`, or None if it is not there."""
        proc = self.call("cat-file", "blob", f"{ref}:{path}")
        return proc.stdout if proc.returncode == 0 else None

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Files changed on `head` since it forked from `base` (what a PR would show)."""
        out = self.call("diff", "--name-only", "-z", f"{base}...{head}", check=True).stdout
        return [name for name in out.split("\0") if name]

    def changed_since(self, ref: str) -> list[str]:
        """Paths that differ between `ref` and the working tree: committed, staged, unstaged,
        deleted or untracked (ignored files excepted)."""
        tracked = self.call("diff", "--name-only", "--no-renames", "-z", ref, check=True).stdout
        untracked = self.call("ls-files", "--others", "--exclude-standard", "-z", check=True).stdout
        return sorted({name for name in (tracked + untracked).split("\0") if name})

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of `a` and `b`, or None when they share no history."""
        return _output_if_ok(self.call("merge-base", a, b))

    def words_in(self, ref: str, words: list[str], exclude: list[str] = ()) -> set[str]:
        """Which of `words` occur as whole words in the tree of `ref`, outside the `exclude`
        globs (one git grep)."""
        if not words:
            return set()
        patterns = [arg for word in words for arg in ("-e", word)]
        pathspecs = [f":(exclude,glob){glob}" for glob in exclude]
        out = self.call("grep", "--only-matching", "-h", "-w", "-F", *patterns, ref, "--", ".", *pathspecs)
        return set(out.stdout.splitlines()) & set(words)

    def messages(self, revisions: str) -> list[str]:
        """Full commit messages of `revisions` (e.g. `base..HEAD`), newest first."""
        out = self.call("log", "--format=%B%x00", revisions, check=True).stdout
        return [m.strip() for m in out.split("\0") if m.strip()]


def _output_if_ok(proc: subprocess.CompletedProcess[str]) -> str | None:
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


# --- worktrees ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorktreeInfo:
    path: Path
    branch: str | None  # short name; None when detached


def list_worktrees(git: Git) -> list[WorktreeInfo]:
    """Worktrees of the repository, the main one first."""
    found: list[WorktreeInfo] = []
    path: Path | None = None
    branch: str | None = None
    for line in [*git.run("worktree", "list", "--porcelain").splitlines(), ""]:
        if line.startswith("worktree "):
            path, branch = Path(line.removeprefix("worktree ")), None
        elif line.startswith("branch "):
            branch = line.removeprefix("branch ").removeprefix("refs/heads/")
        elif not line and path is not None:
            found.append(WorktreeInfo(path, branch))
            path = None
    return found


def ensure_worktree(repo_root: Path, path: Path, branch: str, base: str) -> Path:
    """A worktree of `repo_root` at `path` with `branch` checked out, created if needed.

    An existing worktree on `branch` is reused untouched (uncommitted work survives). A new
    branch starts at `base`, and a record beside the worktree (`<path>.owner.json`) notes that
    we made it, so a later run re-attaches that branch but refuses a same-named branch it did
    not make. Anything in the way raises UsageError saying what to do; nothing is ever
    deleted or forced.
    """
    git = Git(repo_root)
    git.run("worktree", "prune")
    _check_branch_name(git, branch)
    worktrees = list_worktrees(git)
    target = path.resolve()
    mine = next((w for w in worktrees if w.path.resolve() == target), None)
    if mine is not None:
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
        start = _start_point(git, base)
        git.run(*add, "--no-track", "-b", branch, str(path), start)
        write_atomic(_owner_record(path), json.dumps({"branch": branch, "base": base,
                                                       "start": git.rev_parse(start)}) + "\n")
    return path


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
def checked_out_at(git: Git, sha: str, branch: str) -> Iterator[None]:
    """Within the block the (clean) worktree holds `sha` on a detached HEAD; afterwards it is
    cleaned (files the block made are removed, ignored ones kept) and back on `branch`."""
    git.switch_detached(sha)
    try:
        yield
    finally:
        back_on_branch(git, branch)


def back_on_branch(git: Git, branch: str) -> None:
    """Undo a detached checkout left by `checked_out_at`, e.g. by a run killed inside it."""
    if git.current_branch() != branch:
        git.restore("HEAD")
        git.switch(branch)


def _start_point(git: Git, base: str) -> str:
    """`base` if it exists locally, else its origin counterpart."""
    for ref in (base, f"origin/{base}"):
        if git.rev_parse(f"{ref}^{{commit}}"):
            return ref
    raise UsageError(f"base branch {base!r} does not exist in {git.cwd}",
                     "set orchestrator.base_branch to an existing branch, "
                     "e.g. --set base_branch=main")
