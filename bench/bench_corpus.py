"""agentos on the corpus of real projects (tests/corpus/projects.yaml), with the replay model.

    .venv/bin/python bench/bench_corpus.py [--only NAME ...] [--no-pipeline | --no-env] [--steps] [--json FILE]
        [--projects FILE]   # other projects in the same format, e.g. bench/outside-projects.yaml

Per project: the test runner agentos detects (right or wrong against projects.yaml), the time
agentos takes to set up the test environment, with uv and with pip side by side, cold (an empty
agentos cache, uv's and pip's download caches included) and warm (the same cache, a fresh copy of
the repository: a second issue in another clone), the base run at the planted bug, and the
whole `orchestrate --issue 1` through the replay server (tests/corpus/replay.py): its exit code,
whether the new test reached the branch, model calls (and of them the code review stage's: its
calls and prompt + completion tokens), prompt tokens (all, the first and the
largest implementation call, and the worst round's largest call over its first), the share of
input tokens that repeat an earlier call's prefix (each call's longest common prefix with any
earlier call of the run to the same model, since a provider's cache serves one model: the corpus
pairs models as the defaults do, one drafting and implementing, another reviewing; the tools first, as they open every provider's cache key; agentos asks
for an answer's schema in the prompt, and the `response_format` local servers also get is applied
outside their prompt: what a prefix cache can serve at most), and the estimated cost per issue at Sonnet-class
prices with that cache (repeated tokens at the cache-read price, writes as plain input) and
without. Token counts are the replay server's estimate (4 characters a token). Prints a table
(`--steps`: every call); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.config import ImplementationStageConfig  # noqa: E402
from agentos.llm.base import Usage  # noqa: E402
from agentos.llm.models import price_for  # noqa: E402
from agentos.repo import testcmd  # noqa: E402
from agentos.workflows.implementation.environment import TestEnvironment  # noqa: E402
from tests.corpus import fetch  # noqa: E402
from tests.corpus.conftest import make_pipeline  # noqa: E402

PRICE_MODEL = "claude:sonnet-4.6"
RUNNERS = {"pytest": "pytest", "unittest": "unittest", "npm": "tape"}


@contextmanager
def pip_cache(folder: Path):
    """pip's download cache under `folder` for the duration (uv's lives in agentos's cache)."""
    saved = os.environ.get("PIP_CACHE_DIR")
    os.environ["PIP_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        os.environ.pop("PIP_CACHE_DIR") if saved is None else os.environ.__setitem__("PIP_CACHE_DIR", saved)


def detected(repo: Path) -> tuple[str, str]:
    """(the test command agentos detects, why), or ("error: …", "")."""
    try:
        found = testcmd.detect(repo)
    except Exception as exc:  # a project agentos cannot read is a figure too
        return f"error: {exc}", ""
    return found.command, found.reason


def runner_of(command: str) -> str:
    return next((name for key, name in RUNNERS.items() if key in command), "?")


def set_up(project: fetch.Project, where: Path, command: str, cache: Path, uv: bool) -> tuple[float | None, Any]:
    """(seconds or None on failure, the environment) for agentos's set-up of a fresh copy of the project."""
    repo = fetch.prepare(project, where, with_bug=True)
    env = TestEnvironment(repo, ImplementationStageConfig(), command, cache_dir=cache, **({} if uv else {"uv": None}))
    started = time.monotonic()
    try:
        with pip_cache(cache / "pip"):
            env.ensure()
    except Exception as exc:
        print(f"{project.name}: set-up failed: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return None, env
    return time.monotonic() - started, env


def environment_figures(project: fetch.Project, work: Path) -> dict[str, Any]:
    command, why = detected(fetch.prepare(project, work / "probe"))
    row: dict[str, Any] = {"detected": command, "why": why, "runner_ok": runner_of(command) == project.data["runner"]}
    if command.startswith("error"):
        return row
    envs = {}
    for tool in ("uv", "pip"):
        cache = work / f"cache-{tool}"
        row[f"{tool}_cold_s"], _ = set_up(project, work / f"{tool}-cold", command, cache, tool == "uv")
        row[f"{tool}_warm_s"], envs[tool] = set_up(project, work / f"{tool}-warm", command, cache, tool == "uv")
    if row["uv_warm_s"] is not None:
        env = envs["uv"]
        base = testcmd.run_tests(testcmd.expand_command(command, env.root), env.root, 900, env=env.variables())
        row["base_s"] = base.duration_s
        row["base"] = f"{base.passed} passed, {base.failed} failed, exit {base.exit_code}"
    return row


def pipeline_figures(project: fetch.Project, work: Path, steps: bool = False) -> dict[str, Any]:
    p = make_pipeline(project, work)
    try:
        run = p.orchestrate()
    finally:
        p.server.stop()
    calls = p.server.calls
    for c in calls if steps else []:
        print(f"  {project.name} {c.step:<14} {c.prompt_tokens:>7} in {c.cached_tokens:>7} repeated "
              f"({c.cached_tokens / max(c.prompt_tokens, 1):.0%})", file=sys.stderr)
    impl = p.server.implementation_prompts()
    price = price_for(PRICE_MODEL)
    cached = sum(price.cost(Usage(input_tokens=c.prompt_tokens - c.cached_tokens, output_tokens=c.completion_tokens,
                                  cache_read_tokens=c.cached_tokens)) for c in calls) if price else 0.0
    plain = sum(price.cost(Usage(input_tokens=c.prompt_tokens, output_tokens=c.completion_tokens))
                for c in calls) if price else 0.0
    changed = fetch.git(p.repo, "diff", "--name-only", "main..agentos/issue-1").split() if run.returncode == 0 else []
    review = [c for c in calls if c.step.startswith("review.")]
    return {"exit": run.returncode, "new_test": project.data["new_test"]["file"] in changed,
            "pipeline_s": round(run.seconds, 1), "calls": len(calls), "review_calls": len(review),
            "review_tokens": sum(c.prompt_tokens + c.completion_tokens for c in review),
            "all_tokens": sum(c.prompt_tokens + c.completion_tokens for c in calls),
            "prompt_tokens": sum(c.prompt_tokens for c in calls), "impl_first": impl[0] if impl else 0,
            "impl_max": max(impl, default=0), "impl_ratio": round(round_ratio(calls), 2),
            "cached_share": round(p.server.cached_share(), 3),
            "cost_cached_usd": round(cached, 4), "cost_uncached_usd": round(plain, 4)}


def round_ratio(calls: list) -> float:
    """The largest implementation call over its round's first, the worst round (a round: the
    calls of one phase in a row; a fix round after a green one counts with it, an upper bound)."""
    rounds: list[list[int]] = []
    for previous, call in zip([None, *calls], calls):
        if call.step.startswith("impl."):
            if previous is None or previous.step != call.step:
                rounds.append([])
            rounds[-1].append(call.prompt_tokens)
    return max((max(r) / r[0] for r in rounds), default=0.0)


COLUMNS = [("project", "name"), ("detected", "detected"), ("runner", "runner_ok"), ("uv cold s", "uv_cold_s"),
           ("uv warm s", "uv_warm_s"), ("pip cold s", "pip_cold_s"), ("pip warm s", "pip_warm_s"),
           ("base s", "base_s"), ("exit", "exit"), ("new test", "new_test"), ("pipeline s", "pipeline_s"),
           ("calls", "calls"), ("review calls", "review_calls"), ("review tok", "review_tokens"),
           ("all tok", "all_tokens"), ("prompt tok", "prompt_tokens"), ("impl first", "impl_first"),
           ("impl max", "impl_max"), ("impl x", "impl_ratio"), ("prefix share", "cached_share"), ("$ cached", "cost_cached_usd"),
           ("$ uncached", "cost_uncached_usd")]


def cell(value: Any, key: str = "") -> str:
    if isinstance(value, bool):
        return ("right" if value else "wrong") if key == "runner_ok" else ("yes" if value else "no")
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value).replace("|", "\\|")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(k), k) for _, k in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME", help="this project only (repeatable)")
    parser.add_argument("--no-pipeline", action="store_true", help="environment figures only")
    parser.add_argument("--no-env", action="store_true", help="pipeline figures only (no set-up timings)")
    parser.add_argument("--steps", action="store_true", help="also print each model call: step, tokens, prefix share")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--projects", type=Path, default=fetch.PROJECTS_FILE,
                        help="the projects, in projects.yaml's format (default: the corpus)")
    args = parser.parse_args(argv)
    projects = [p for p in fetch.load_projects(args.projects) if not args.only or p.name in args.only]
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    rows = []
    for project in projects:
        with tempfile.TemporaryDirectory(prefix=f"bench-corpus-{project.name}-") as tmp:
            row: dict[str, Any] = {"name": project.name}
            if not args.no_env:
                row.update(environment_figures(project, Path(tmp) / "env"))
            if not args.no_pipeline:
                row.update(pipeline_figures(project, Path(tmp) / "pipeline", args.steps))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
