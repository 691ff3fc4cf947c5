"""Repository context for prompts."""

from __future__ import annotations

import subprocess
from pathlib import Path


def repo_listing(root: Path, max_chars: int) -> str:
    """Tracked files of the repository, one per line, cut to a size budget."""
    proc = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    files = [f for f in proc.stdout.splitlines() if not f.startswith(".agentos/")]
    out, used = [], 0
    for name in files:
        if used + len(name) + 1 > max_chars:
            out.append(f"… and {len(files) - len(out)} more files")
            break
        out.append(name)
        used += len(name) + 1
    return "\n".join(out)
