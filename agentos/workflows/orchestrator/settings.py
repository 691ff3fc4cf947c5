"""A run's settings: the --config, --set values and flags it started with, kept with the run.

A gate asked for on the command line must still hold when the run continues (after `agentos
approve`, from `agentos poll`, after a crash), so what the run started with is stored in its
record and applied again. A value given again explicitly on continuing replaces the stored one,
and the run says so; a config file that changed since the run started is named.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentos import runs
from agentos.config import LoadedConfig, set_key
from agentos.errors import ConfigError
from agentos.paths import RepoLayout, find_repo_root
from agentos.workflows.orchestrator.session import RunOptions

KEY = "settings"
"""Run record key: {config_file, sets, flags, config_sha256}."""

ENDED = ("done", "blocked")
"""Statuses after which the next command starts a new run rather than continuing this one."""


def continued_options(opts: RunOptions, kind: str = "orchestrate") -> tuple[RunOptions, list[str]]:
    """The options the command runs with, and what it changed: the continued run's own settings
    with what was given explicitly now on top. A command that starts a new run keeps its own."""
    layout = RepoLayout(find_repo_root(opts.repo))
    last = runs.latest(layout, opts.issue, kind)
    if opts.resume_from or opts.skip or last is None or last.status in ENDED or KEY not in last.extra:
        return opts, []
    stored = last.extra[KEY]
    notes: list[str] = []
    config_file = Path(stored["config_file"]) if stored.get("config_file") else None
    if opts.config_file is not None and opts.config_file.resolve() != config_file:
        notes.append(f"--config {opts.config_file} given now replaces "
                     f"{config_file or 'the default config file'} the run started with")
        config_file = opts.config_file
    elif config_file is not None and not config_file.exists():
        raise ConfigError(f"the config file {config_file} this run started with (--config) is gone",
                          "restore it, or pass --config FILE to continue with another")
    flags = dict(stored.get("flags") or {})
    for key, value in opts.flags.items():
        if value is not None and flags.get(key) != value:
            was = _shown(flags[key]) if key in flags else "not given"
            notes.append(f"{key}={_shown(value)} given now applies (the run started with {was})")
            flags[key] = value
    return replace(opts, config_file=config_file, sets=_merged_sets(stored.get("sets") or [], opts.sets, notes),
                   flags=flags), notes


def _merged_sets(started: list[str], now: list[str], notes: list[str]) -> list[str]:
    """The run's --set values, each replaced by one given now for the same key."""
    given = {set_key(item): item for item in now}
    kept = [item for item in started if set_key(item) not in given]
    for key, item in given.items():
        before = next((s for s in started if set_key(s) == key), None)
        if item != before:
            was = f"--set {before}" if before else "no --set for it"
            notes.append(f"--set {item} given now applies (the run started with {was})")
    return kept + list(given.values())


def remember(layout: RepoLayout, record: runs.RunRecord, opts: RunOptions, loaded: LoadedConfig) -> list[str]:
    """Store the settings the run goes on with; name the config file if it changed since they were stored."""
    before = record.extra.get(KEY) or {}
    digest = _digest(loaded.file)
    notes = []
    if before and before.get("config_sha256") != digest:
        where = loaded.file or before.get("config_path") or "the config file"
        notes.append(f"config file {where} changed since the run started; its current values apply")
    record.extra[KEY] = {
        "config_file": str(opts.config_file.resolve()) if opts.config_file else None,
        "sets": list(opts.sets),
        "flags": {k: v for k, v in opts.flags.items() if v is not None},
        "config_path": str(loaded.file) if loaded.file else None,
        "config_sha256": digest,
    }
    runs.save(layout, record)
    return notes


def _digest(path: Path | None) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path else None
    except OSError:
        return None


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
