"""Whatever a set-up step leaves in a worktree stays out of git, whatever the project's .gitignore says.

An editable install writes `<pkg>.egg-info/` (and sometimes `build/` or a version file) into the
source tree, or rewrites the egg-info an sdist ships; `git add -A` would commit it with the
implementer's work. What the step did is found by comparing `git status` before and after it:
each new folder gets a `.gitignore` of `*` inside it (so it hides itself and touches nothing
else), each new file an anchored line in the worktree's own `info/exclude` (in its private git
folder, so the user's checkout is not affected; git itself reads no per-worktree exclude file,
agentos's `Checkout` does), and each tracked file it changed is restored as committed.

The status before the step is kept on disk beside the worktree until the step is done, so when
the process is killed during the step, the next run finishes the job before it commits any
interrupted work (`finish_interrupted`): what a half-done set-up made never reaches the branch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentos.files import write_atomic
from agentos.repo.git import Checkout, Git, GitError


def snapshot(root: Path) -> set[str] | None:
    """git's status of `root` as "XY path" entries (untracked folders end with "/"); None outside git.
    Read as plain git sees it (not through Checkout's build-output excludes), so the note says
    everything the step left."""
    proc = Git(root).call("status", "--porcelain", "-z", "--untracked-files=normal", "--no-renames")
    return {e for e in proc.stdout.split("\0") if e} if proc.returncode == 0 else None


@contextmanager
def kept_out_of_git(root: Path) -> Iterator[list[str]]:
    """Around a set-up step: afterwards, what it made is kept out of git, and the list yielded
    says what (see keep_out_of_git). Git's status before the step is kept on disk meanwhile."""
    before, pending = snapshot(root), _pending(root)
    write_atomic(pending, json.dumps(sorted(before) if before is not None else None))
    kept: list[str] = []
    yield kept
    kept += keep_out_of_git(root, before)
    pending.unlink(missing_ok=True)


def finish_interrupted(root: Path) -> list[str]:
    """Keep out of git what a set-up step made before its process was killed; what was kept."""
    pending = _pending(root)
    try:
        before = json.loads(pending.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    kept = keep_out_of_git(root, set(before) if isinstance(before, list) else None)
    pending.unlink(missing_ok=True)
    return kept


def _pending(root: Path) -> Path:
    return root.parent / f"{root.name}.setup-pending.json"


def keep_out_of_git(root: Path, before: set[str] | None) -> list[str]:
    """Ignore what appeared since `before` and restore the tracked files changed since; says which."""
    after = snapshot(root)
    if before is None or after is None:
        return []
    done = sorted(after - before)
    created = [e[3:] for e in done if e.startswith("?? ")]
    changed = [e[3:] for e in done if e[1] == "M" and e[0] in " M"]
    for folder in (rel for rel in created if rel.endswith("/")):
        (root / folder / ".gitignore").write_text("*\n")
    if files := [rel for rel in created if not rel.endswith("/")]:
        _exclude(root, files)
    Checkout(root).checkout_paths("HEAD", changed)
    return created + [f"{rel} (restored)" for rel in changed]


def _exclude(root: Path, files: list[str]) -> None:
    try:
        git_dir = Path(Git(root).run("rev-parse", "--absolute-git-dir"))
    except GitError:
        return
    exclude = git_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as out:
        out.write("".join(f"/{rel}\n" for rel in files))
