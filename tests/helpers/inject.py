"""Fault injection for tests that run agentos in a subprocess: code installed as a sitecustomize
module (it runs before the program), and running a command as a user who is not root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def sitecustomize_env(folder: Path, code: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which every Python subprocess first runs `code` (e.g. a wrapper that makes
    a function fail at a chosen point)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(code)
    base = dict(os.environ if env is None else env)
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), base.get("PYTHONPATH", "")) if p)
    return base


def as_other_user() -> list[str] | None:
    """A command prefix that runs as a user permissions apply to: nothing when we are not root;
    as root, `nobody` through setpriv (inside bubblewrap, so the interpreter under /root stays
    reachable). None when neither works here."""
    if os.geteuid() != 0:
        return []
    if not (shutil.which("bwrap") and shutil.which("setpriv")):
        return None
    prefix = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/root"]
    for kept in {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}:
        if kept.is_relative_to("/root"):
            prefix += ["--ro-bind", str(kept), str(kept)]
    prefix += ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import os, agentos; assert os.getuid() == 65534"],
                           capture_output=True, timeout=60)
    return prefix if probe.returncode == 0 else None
