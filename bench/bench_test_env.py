"""Setting up a target's test environment: cold and warm, uv and pip side by side.

    .venv/bin/python bench/bench_test_env.py [--runs 3] [--deps attrs,idna]
    .venv/bin/python bench/bench_test_env.py --corpus [NAME ...]

A small setuptools project (src layout) that depends on a couple of PyPI packages and has a
`test` extra with pytest, in a repository laid out as agentos lays it out (worktrees under
.agentos/worktrees/N). For uv and for pip (the fallback), each run measures:

1. cold: the first worktree, with empty package caches (everything downloaded and built);
2. new venv, caches warm: a dependency file changed, so a fresh venv, from the package cache;
3. next issue: another worktree of the same repository with the same dependency files, which
   gets the ready-made venv copied and re-linked to its own source.

With --corpus, the same for each project of tests/corpus (their published sources): the
runner detected (and why) against the one its developers use, set-up cold and warm with uv
and with pip, and one base run of the detected command (after the pytest fallback if the first
could not collect).

Reaches PyPI (through uv and pip). Prints figures; asserts nothing (shared, noisy machines).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.config import ImplementationStageConfig  # noqa: E402
from agentos.repo.testcmd import detect, expand_command, run_tests  # noqa: E402
from agentos.workflows.implementation.environment import TestEnvironment, collection_failed  # noqa: E402
from agentos.workflows.implementation.venvs import find_uv  # noqa: E402

PYTEST = "{python} -m pytest -q"
STEPS = ("cold (empty caches)", "new venv, package cache warm", "next issue (ready-made copy)")


def git(cwd: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True)


def project(root: Path, deps: list[str]) -> Path:
    files = {
        "pyproject.toml": "[build-system]\nrequires = ['setuptools>=61']\nbuild-backend = 'setuptools.build_meta'\n"
                          f"[project]\nname = 'benchpkg'\nversion = '1.0'\ndependencies = {deps!r}\n"
                          "[project.optional-dependencies]\ntest = ['pytest']\n",
        "src/benchpkg/__init__.py": "def answer():\n    return 42\n",
        "tests/test_answer.py": "from benchpkg import answer\n\n\ndef test_answer():\n    assert answer() == 42\n",
        ".agentos/.gitignore": "*\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    return root


def worktree(repo: Path, n: int) -> Path:
    path = repo / ".agentos" / "worktrees" / str(n)
    git(repo, "worktree", "add", "-q", "-b", f"issue-{n}", str(path))
    return path


def timed_setup(tree: Path, uv: str | None, command: str = PYTEST) -> tuple[float, str]:
    started = time.monotonic()
    done = TestEnvironment(tree, ImplementationStageConfig(), command, uv=uv).ensure()
    return time.monotonic() - started, done.what if done else "up to date"


def one_run(base: Path, tool: str, deps: list[str]) -> list[float]:
    """The three steps' times for one tool, in a repository and package caches of their own."""
    repo = project(base / tool, deps)
    os.environ["PIP_CACHE_DIR"] = str(base / f"pip-cache-{tool}")  # pip's cache starts empty too
    uv = find_uv() if tool == "uv" else None
    cold, what = timed_setup(worktree(repo, 1), uv)
    second = worktree(repo, 2)
    with (second / "pyproject.toml").open("a") as f:
        f.write("# a changed dependency file: a new fingerprint, a fresh venv\n")
    rebuilt, _ = timed_setup(second, uv)
    copied, how = timed_setup(worktree(repo, 3), uv)
    test = subprocess.run([str(repo / ".agentos/worktrees/3/.venv/bin/python"), "-m", "pytest", "-q"],
                          cwd=repo / ".agentos/worktrees/3", capture_output=True, text=True)
    print(f"  {tool}: {what}\n  {tool}: {how}\n  {tool}: tests in the copied venv: {test.stdout.strip().splitlines()[-1]}")
    return [cold, rebuilt, copied]


# --- the corpus -----------------------------------------------------------------------------


def corpus_row(project, base: Path) -> list[str]:
    """Detected right?, the detection, set-up cold/warm with uv and pip, the base run."""
    from tests.corpus import fetch

    cells: dict[str, tuple[float, float]] = {}
    command = reason = ""
    for tool in ("uv", "pip"):
        repo = fetch.prepare(project, base / tool / project.name)
        (repo / ".agentos").mkdir(exist_ok=True)
        (repo / ".agentos" / ".gitignore").write_text("*\n")
        os.environ["PIP_CACHE_DIR"] = str(base / tool / "pip-cache")
        first, second = worktree(repo, 1), worktree(repo, 2)
        found = detect(first)
        command, reason = found.command, found.reason
        uv = find_uv() if tool == "uv" else None
        cells[tool] = (timed_setup(first, uv, command)[0], timed_setup(second, uv, command)[0])
    tree = base / "uv" / project.name / ".agentos" / "worktrees" / "1"
    env = TestEnvironment(tree, ImplementationStageConfig(), command)
    run = run_tests(expand_command(command, tree), tree, 900, env=env.variables())
    if collection_failed(run) and (said := env.fallback_runner()):
        reason += f" [{said.split(' (')[0]}]"
        run = run_tests(expand_command(command, tree), tree, 900, env=env.variables())
    expected = project.data.get("runner", "")
    right = expected in command or (expected not in ("pytest", "unittest") and command == project.data.get("test_command"))
    return [project.name, "yes" if right else f"NO (developers: {expected})", f"`{command}`",
            *(f"{t:.2f}" for t in (*cells["uv"], *cells["pip"])), f"{run.duration_s:.1f}", run.summary(), reason]


def corpus(names: list[str]) -> None:
    try:
        from tests.corpus import fetch
    except ImportError:
        sys.exit("tests/corpus is not in this checkout")
    header = ["project", "detected right", "command", "uv cold s", "uv warm s", "pip cold s", "pip warm s",
              "base run s", "base run", "why"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for project in fetch.load_projects():
        if names and project.name not in names:
            continue
        with tempfile.TemporaryDirectory(prefix="agentos-bench-corpus-") as tmp:
            print("| " + " | ".join(corpus_row(project, Path(tmp))) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deps", default="attrs,idna", help="comma-separated PyPI dependencies of the project")
    parser.add_argument("--corpus", nargs="*", metavar="NAME", help="the corpus projects (all when none named)")
    args = parser.parse_args()
    deps = args.deps.split(",")
    if find_uv() is None:
        sys.exit("uv is not installed here (pip install uv): nothing to compare")
    if args.corpus is not None:
        return corpus(args.corpus)
    times: dict[str, list[list[float]]] = {"uv": [], "pip": []}
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="agentos-bench-env-") as tmp:
            for tool in times:
                times[tool].append(one_run(Path(tmp) / str(i), tool, deps))
    print(f"\nTest-environment set-up, median of {args.runs} run(s); project: setuptools, src layout, "
          f"dependencies {', '.join(deps)}, test extra [pytest]")
    print(f"{'step':<34}{'uv':>10}{'pip':>10}")
    for n, step in enumerate(STEPS):
        cells = [statistics.median(run[n] for run in times[tool]) for tool in times]
        print(f"{step:<34}" + "".join(f"{c:>9.2f}s" for c in cells))


if __name__ == "__main__":
    main()
