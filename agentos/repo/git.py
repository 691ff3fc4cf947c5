"""A thin, typed wrapper over the `git` command line.

`Git` is the one place agentos runs `git` as a subprocess, and reads: refs, history, file
contents, changes between commits. `Checkout` adds what changes a working tree (commit,
reset, switch): it is only ever made for agentos's own worktrees (`repo/worktrees.py`), so
the type says which checkouts agentos may write. Nothing writes git config.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from agentos.errors import AgentosError, UsageError
from agentos.redact import redact
from agentos.repo.buildoutput import default_user_excludes, exclude_text, patterns

FALLBACK_NAME = "agentos"
FALLBACK_EMAIL = "agentos@localhost"


class GitError(AgentosError):
    """A git command failed; carries the command, its exit code and its stderr."""

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
            if self.cwd.is_dir():
                raise UsageError("git is not installed (no `git` on PATH)",
                                 "install git (e.g. apt install git) or add its folder to PATH") from None
            raise GitError(command, 127, f"{self.cwd}: {exc.strerror}") from None
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

    def remotes(self) -> dict[str, str]:
        """Remote name → fetch URL."""
        out = self.run("config", "--get-regexp", r"^remote\..*\.url$", check=False)
        result: dict[str, str] = {}
        for line in out.splitlines():
            key, _, url = line.partition(" ")
            result[key.removeprefix("remote.").removesuffix(".url")] = url
        return result

    # --- content ------------------------------------------------------------------------

    def show_file(self, ref: str, path: str) -> str | None:
        """The content of `path` (repository-relative) at `ref`, or None if it is not there."""
        proc = self.call("cat-file", "blob", f"{ref}:{path}")
        return proc.stdout if proc.returncode == 0 else None

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Files changed on `head` since it forked from `base` (what a PR would show)."""
        out = self.call("diff", "--name-only", "-z", f"{base}...{head}", check=True).stdout
        return [name for name in out.split("\0") if name]

    def diff(self, revisions: str, stat: bool = False, width: int = 80) -> str:
        """The patch of `revisions` (e.g. `base...branch`), or its per-file summary with `stat`
        (lines at most `width` long)."""
        return self.call("diff", f"--stat={width}" if stat else "--patch", revisions, check=True).stdout

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


def _identity_args(git: Git) -> list[str]:
    """`-c user.x=…` for whichever of user.name / user.email is not configured."""
    out = git.run("config", "--get-regexp", r"^user\.(name|email)$", check=False)
    configured = {line.split(" ", 1)[0] for line in out.splitlines() if " " in line}
    return [arg for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL))
            if key not in configured for arg in ("-c", f"{key}={fallback}")]


def _output_if_ok(proc: subprocess.CompletedProcess[str]) -> str | None:
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


class Checkout(Git):
    """A working tree agentos changes: its own worktrees, never the user's checkout, which
    agentos reads only through `Git`. Stages, commits, resets and switches.

    Build output (see buildoutput) never reaches a commit: every git command here reads an
    ignore file of it, with the worktree's own info/exclude (both kept in the worktree's
    private git folder, so the user's checkout is not affected), and tracked build files that
    set-up or a test run rewrote are put back as committed before anything is staged."""

    _excludes: Path | None = None

    def call(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return super().call("-c", f"core.excludesFile={self._exclude_file()}", *args, check=check)

    def _exclude_file(self) -> Path:
        """The ignore file, written once per Checkout (the project's version files can change)."""
        if self._excludes is None:
            git_dir = Path(Git.call(self, "rev-parse", "--absolute-git-dir", check=True).stdout.strip())  # no ignore file yet
            configured = Git.call(self, "config", "--path", "--get", "core.excludesFile").stdout.strip()
            user = Path(configured) if configured else default_user_excludes()
            text = exclude_text(self.cwd, [user, git_dir / "info" / "exclude"])
            path = git_dir / "agentos-exclude"
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            self._excludes = path
        return self._excludes

    def put_back_build_output(self) -> list[str]:
        """Restore tracked build files that differ from HEAD (an sdist's egg-info, a version
        file written from git tags); the paths put back."""
        build_output = [f"--exclude={p}" for p in patterns(self.cwd)]
        tracked = self.call("ls-files", "-z", "--ignored", "--cached", *build_output, check=True).stdout.split("\0")
        changed = self.call("diff", "--name-only", "--no-renames", "-z", "HEAD", check=True).stdout.split("\0")
        paths = sorted({p for p in tracked if p} & set(changed))
        if paths:
            self.run("checkout", "--quiet", "HEAD", "--", *paths)
        return paths

    def stage_all(self) -> None:
        """Stage every change but build output."""
        self.put_back_build_output()
        self.run("add", "-A")

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
        (unless `allow_empty`: then the commit records `message` on its own). Build output
        is left out; secrets are redacted from the message."""
        self.stage_all()
        if not allow_empty and self.ok("diff", "--cached", "--quiet"):
            return None
        self.run(*_identity_args(self), "commit", "--quiet", "--allow-empty", "-m", redact(message))
        return self.head()

    def commit_paths(self, message: str, paths: list[str]) -> str | None:
        """Commit only `paths` as they are in the working tree (other staged changes stay staged);
        the new sha, or None when they hold no change."""
        self.run("add", "--", *paths)
        if self.ok("diff", "--cached", "--quiet", "--", *paths):
            return None
        self.run(*_identity_args(self), "commit", "--quiet", "-m", message, "--only", "--", *paths)
        return self.head()

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

    def changed_since(self, ref: str) -> list[str]:
        """Paths that differ between `ref` and the working tree: committed, staged, unstaged,
        deleted or untracked (ignored files excepted)."""
        tracked = self.call("diff", "--name-only", "--no-renames", "-z", ref, check=True).stdout
        untracked = self.call("ls-files", "--others", "--exclude-standard", "-z", check=True).stdout
        return sorted({name for name in (tracked + untracked).split("\0") if name})
