"""What counts as build output in a worktree agentos commits from: the one list.

Set-up and test runs leave files in the tree (an editable install's `*.egg-info/`, `build/`,
caches, coverage data, `node_modules/`, the venv) and rewrite some the project tracks (the
egg-info an sdist ships, a version file setuptools-scm or hatch-vcs writes from git tags).
None of it is the implementer's work, whatever the project's `.gitignore` says: `Checkout`
keeps these paths out of every commit, and puts tracked ones back as committed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

BUILD_OUTPUT = (
    "*.egg-info/", "/build/", "/dist/", "__pycache__/", "*.py[co]", ".pytest_cache/", ".mypy_cache/",
    ".ruff_cache/", ".tox/", ".nox/", "node_modules/", ".venv/", ".coverage", ".coverage.*", "coverage.xml",
    "/htmlcov/", ".benchmarks/", ".pdm-build/", ".nyc_output/", "/coverage/",
)
"""gitignore patterns. Names a project could use for its own source (`build`, `dist`,
`coverage`) count only at the top of the tree, where the tools write them."""

_VERSION_FILE = re.compile(r"""(?<![\w-])["']?(?:write_to|version_file|version-file)["']?\s*[=:]\s*["']([^"'\n]+)["']""")
_DECLARING = ("pyproject.toml", "setup.cfg", "setup.py")


def version_files(root: Path) -> list[str]:
    """Files the build writes from git tags, as the project declares them (setuptools-scm's
    `write_to` / `version_file`, hatch-vcs's `version-file`, pdm's `write_to`)."""
    found: list[str] = []
    for name in _DECLARING:
        try:
            text = (root / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found += [m.strip().lstrip("./") for m in _VERSION_FILE.findall(text)]
    return list(dict.fromkeys(found))


def exclude_text(root: Path, also: list[Path]) -> str:
    """The ignore file agentos's git commands in `root` use: the files in `also` (the user's
    global excludes, which it replaces; the worktree's own info/exclude, which git does not
    read), then the build output and the project's version files."""
    parts = [p.read_text(encoding="utf-8", errors="replace").rstrip("\n") + "\n" for p in also if p.is_file()]
    return "".join(parts) + "# build output: never committed by agentos\n" + "\n".join(patterns(root)) + "\n"


def patterns(root: Path) -> list[str]:
    """The build output of the project at `root`, as gitignore patterns."""
    return [*BUILD_OUTPUT, *(f"/{rel}" for rel in version_files(root))]


def default_user_excludes() -> Path:
    """git's default global excludes file, used when core.excludesFile is not set."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "git" / "ignore"
