"""`agentos config show`: the effective configuration, each value with where it came from."""

from __future__ import annotations

import json
from pathlib import Path

from agentos.config import flatten, load_config
from agentos.paths import find_repo_root


def show_config(repo: Path | None, config_file: Path | None, sets: list[str]) -> str:
    """One `key = value    # source` line per setting, after a line naming the config file."""
    loaded = load_config(find_repo_root(repo), config_file, sets)
    lines = [f"# config file: {loaded.file or 'none (built-in defaults)'}"]
    lines += [f"{key} = {json.dumps(value)}    # {loaded.source_of(key)}" for key, value in flatten(loaded.config).items()]
    return "\n".join(lines)
