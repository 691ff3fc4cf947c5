"""Where agentos keeps things inside the target repository (never the cwd or $HOME)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentos.errors import NotARepositoryError
from agentos.files import remove_stale_temps
from agentos.repo.git import Git

# What in .agentos/ is machine state (ignored) rather than something a team commits
# (config.yaml, templates/, issues/ of the local forge).
_IGNORED = ["state.db", "state.db-*", "runs/", "worktrees/", "logs/", "cache/"]


def find_repo_root(start: Path | None = None) -> Path:
    """The top of the git repository containing `start` (default: the cwd); from inside one of
    agentos's issue worktrees, the repository it belongs to."""
    where = (start or Path.cwd()).resolve()
    if not where.exists():
        raise NotARepositoryError(f"{where} does not exist", "pass --repo PATH to a git repository")
    git = Git(where if where.is_dir() else where.parent)
    proc = git.call("rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        if "dubious ownership" in proc.stderr:
            raise NotARepositoryError(f"git refuses to work in {where}: the repository belongs to another user",
                                      f"if you trust it: git config --global --add safe.directory {where}")
        if git.run("rev-parse", "--is-bare-repository", check=False) == "true":
            raise NotARepositoryError(f"{where} is a bare repository (it has no working tree)",
                                      f"run agentos in a clone with a working tree: git clone {where}")
        raise NotARepositoryError(
            f"{where} is not inside a git repository",
            "run from inside the repository, pass --repo PATH, or `git init` it first",
        )
    top = Path(proc.stdout.strip()).resolve()
    # Inside an issue's worktree (<repo>/.agentos/worktrees/N), the repository is the one that owns it.
    if top.parent.name == "worktrees" and top.parent.parent.name == ".agentos":
        return top.parents[2]
    return top


@dataclass(frozen=True)
class RepoLayout:
    root: Path

    @property
    def agentos_dir(self) -> Path:
        return self.root / ".agentos"

    @property
    def state_db(self) -> Path:
        return self.agentos_dir / "state.db"

    @property
    def runs_dir(self) -> Path:
        return self.agentos_dir / "runs"

    @property
    def worktrees_dir(self) -> Path:
        return self.agentos_dir / "worktrees"

    @property
    def issues_dir(self) -> Path:
        return self.agentos_dir / "issues"

    @property
    def pulls_dir(self) -> Path:
        return self.agentos_dir / "pulls"

    @property
    def templates_dir(self) -> Path:
        return self.agentos_dir / "templates"

    @property
    def logs_dir(self) -> Path:
        return self.agentos_dir / "logs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def worktree(self, issue: int) -> Path:
        return self.worktrees_dir / str(issue)

    def remove_stale_temps(self) -> None:
        """Remove the temporary files writers killed mid-write left where agentos writes whole
        files: run records and decisions (also of a run killed before its record was first
        written, whose folder holds nothing else), the local forge, worktree records, caches."""
        run_dirs = [d for d in self.runs_dir.glob("*") if d.is_dir()]
        for folder in [self.issues_dir, self.pulls_dir, self.worktrees_dir, self.agentos_dir / "cache", *run_dirs]:
            remove_stale_temps(folder)

    def ensure(self) -> None:
        """Create .agentos/ with a .gitignore that keeps machine state out of commits."""
        self.agentos_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.agentos_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# agentos machine state; config.yaml, templates/ and issues/ may be committed\n"
                              + "\n".join(_IGNORED) + "\n")
