"""Verify every corpus project end to end, the way its developers run its tests.

For each project of projects.yaml, in a temporary directory: fetch it (tests/corpus/fetch.py),
set up its test environment (uv for Python, npm for npm packages: once with an empty cache,
"cold", then again with that cache, "warm"), then check that

1. its own test command passes on the published source,
2. with the planted bug committed, the suite fails and every test listed in ``bug.fails`` fails
   while ``kept_behaviour`` still passes,
3. the new test for the issue fails with the bug,
4. with the fix applied, the whole suite (new test included) passes.

Results go to tests/corpus/results.json; ``--report`` rewrites the table in REPORT.md from it.

    python -m tests.corpus.verify [--only NAME ...] [--keep DIR] [--report]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.corpus import fetch
from tests.corpus.fetch import CorpusError, Project

HERE = Path(__file__).parent
RESULTS_FILE = HERE / "results.json"
REPORT_FILE = HERE / "REPORT.md"
COMMAND_TIMEOUT = 900
# Variables of the caller's own test run that must not leak into a project's.
SCRUBBED = ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_PLUGINS",
            "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "NODE_OPTIONS",
            "PYTHONDONTWRITEBYTECODE")  # a developer's shell writes __pycache__: so do we


@dataclass
class Run:
    """One command's outcome."""

    command: str
    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def base_python() -> str:
    """The interpreter behind this one (outside any venv): the projects' venvs are made from it."""
    return getattr(sys, "_base_executable", None) or sys.executable


def environment(work: Path, project: Project) -> dict[str, str]:
    """The environment for a project's commands: its venv first on PATH, nothing of ours, plus
    the variables its entry asks for (setup.env)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    venv = work / "venv"
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
               UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(work / "uv-cache"),
               npm_config_cache=str(work / "npm-cache"), PIP_CACHE_DIR=str(work / "pip-cache"))
    env.update({k: str(v) for k, v in project.data["setup"].get("env", {}).items()})
    return env


def run(command: str | list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run a shell command (string) or an argv (list), nicely, capturing both streams."""
    argv = ["nice", "-n", "10", *(["bash", "-c", command] if isinstance(command, str) else command)]
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT)
        code, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        code, out = -9, f"{exc.output or ''}\n[timed out after {COMMAND_TIMEOUT}s]"
    shown = command if isinstance(command, str) else " ".join(command)
    return Run(shown, code, out, round(time.monotonic() - start, 2))


def uv() -> str:
    """The uv executable (installed with `pip install uv` next to this interpreter)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise CorpusError("uv not found: pip install uv")
    return found


def setup_environment(project: Project, repo: Path, work: Path) -> Run:
    """Create the test environment from scratch as the project's developers would."""
    env = environment(work, project)
    if project.source == "npm":
        shutil.rmtree(repo / "node_modules", ignore_errors=True)
        return run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], repo, env)
    shutil.rmtree(work / "venv", ignore_errors=True)
    made = run([uv(), "venv", "--quiet", "--python", base_python(), str(work / "venv")], repo, env)
    if made.returncode != 0:
        return made
    filled = run([uv(), "pip", "install", "--quiet", "--python", str(work / "venv" / "bin" / "python"),
                  *project.data["setup"]["install"]], repo, env)
    filled.seconds = round(filled.seconds + made.seconds, 2)
    return filled


def suite(project: Project, repo: Path, work: Path) -> Run:
    """The project's test command; known_failing tests deselected (pytest only)."""
    command = project.data["test_command"]
    known = project.data.get("known_failing") or []
    if known and project.data["runner"] != "pytest":
        raise CorpusError(f"{project.name}: known_failing is supported for pytest only")
    command += "".join(f" --deselect {shlex.quote(k['test'])}" for k in known)
    return run(command, repo, environment(work, project))


TAP_TEST = re.compile(r"^# (?!tests |pass |fail |ok$)(.+)$")
TAP_RESULT = re.compile(r"^(not ok|ok) \d+")


def tap_outcomes(output: str) -> dict[str, bool]:
    """Test name -> passed, from TAP output whose tests are announced by '# name' lines (tape)."""
    outcomes: dict[str, bool] = {}
    current = None
    for line in output.splitlines():
        line = line.strip()
        if m := TAP_TEST.match(line):
            current = m.group(1)
            outcomes.setdefault(current, True)
        elif (m := TAP_RESULT.match(line)) and current is not None:
            outcomes[current] = outcomes[current] and m.group(1) == "ok"
    return outcomes


def outcome(project: Project, repo: Path, work: Path, test: str, full: Run | None) -> str:
    """'passed', 'failed' or 'error: ...' for one test id (tape: read from the full run)."""
    if project.data["runner"] == "tape":
        if full is None:
            raise CorpusError("tape outcomes are read from a full run")
        found = tap_outcomes(full.output)
        if test not in found:
            return "error: not run"
        return "passed" if found[test] else "failed"
    one = run(project.data["one_test"].format(test=test), repo, environment(work, project))
    if project.data["runner"] == "unittest":
        ran = re.search(r"^Ran (\d+) tests?", one.output, re.M)
        if not ran or int(ran.group(1)) == 0 or "Failed to import" in one.output:
            return f"error: {one.tail(5)}"
        return "passed" if one.returncode == 0 else "failed"
    if one.returncode in (0, 1):
        return ("passed", "failed")[one.returncode]
    return f"error (exit {one.returncode}): {one.tail(8)}"


ANSI = re.compile(r"\x1b\[[0-9;]*m")
SUMMARIES = [re.compile(r"^=* ?(\d+ (passed|failed).*?)(?: in [\d.]+s.*)?=*$"),  # pytest
             re.compile(r"^(Ran \d+ tests?) in .*$"), re.compile(r"^(OK.*|FAILED \(.*\))$"),  # unittest
             re.compile(r"^# (tests \d+|pass +\d+|fail +\d+)$")]  # tape


def summary(output: str) -> str:
    """The runner's closing counts, e.g. '198 passed, 2 skipped, 1 warning' or 'Ran 774 tests; OK'."""
    found = []
    for line in ANSI.sub("", output).splitlines():
        for pattern in SUMMARIES:
            if m := pattern.match(line.strip()):
                found.append(re.sub(r"\s+", " ", m.group(1)).strip())
    return "; ".join(found)


def add_new_test(project: Project, repo: Path) -> None:
    """Append the issue's new test to its file (or create the file)."""
    new = project.data["new_test"]
    path = repo / new["file"]
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    sep = "" if not before or before.endswith("\n\n") else ("\n" if before.endswith("\n") else "\n\n")
    path.write_text(before + sep + new["code"], encoding="utf-8")


def dirty(repo: Path) -> dict[str, list[str]]:
    """What the runs left in the worktree: files git would add ("untracked" and "modified"), and
    files only the project's own .gitignore keeps out ("ignored")."""
    out = fetch.git(repo, "status", "--porcelain", "--untracked-files=normal", "--ignored=matching")
    found: dict[str, list[str]] = {"modified": [], "untracked": [], "ignored": []}
    for line in out.splitlines():
        kind = {"??": "untracked", "!!": "ignored"}.get(line[:2], "modified")
        if line[3:] != "node_modules/":
            found[kind].append(line[3:])
    return found


class Checker:
    """Collects the checks of one project: each with a name, a verdict and evidence."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool, evidence: str = "") -> bool:
        self.checks.append({"check": name, "ok": ok, **({"evidence": evidence} if not ok else {})})
        print(f"    {'ok ' if ok else 'BAD'} {name}" + (f"\n{evidence}" if not ok else ""), flush=True)
        return ok

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)


def verify(project: Project, work: Path) -> dict[str, Any]:
    """Run every check on one project inside ``work``; a JSON-able record."""
    data, c = project.data, Checker()
    repo = fetch.prepare(project, work / "repo")
    cold = setup_environment(project, repo, work)
    c.check("environment set up (cold cache)", cold.returncode == 0, cold.tail())
    warm = setup_environment(project, repo, work)
    c.check("environment set up (warm cache)", warm.returncode == 0, warm.tail())
    base = suite(project, repo, work)
    known = "" if not data.get("known_failing") else " (known_failing deselected)"
    c.check(f"suite passes on the published source{known}", base.returncode == 0, base.tail(25))
    tests = [*data["bug"]["fails"], data["kept_behaviour"]["test"]]
    for test in tests:
        got = outcome(project, repo, work, test, base)
        c.check(f"base: {test} passes", got == "passed", got)
    left_by_runs = dirty(repo)

    fetch.plant_bug(project, repo)
    buggy = suite(project, repo, work)
    c.check("bug: suite fails", buggy.returncode != 0, buggy.tail())
    for test in data["bug"]["fails"]:
        got = outcome(project, repo, work, test, buggy)
        c.check(f"bug: {test} fails", got == "failed", got)
    got = outcome(project, repo, work, data["kept_behaviour"]["test"], buggy)
    c.check(f"bug: kept {data['kept_behaviour']['test']} passes", got == "passed", got)

    add_new_test(project, repo)
    with_test = buggy if data["runner"] != "tape" else suite(project, repo, work)
    got = outcome(project, repo, work, data["new_test"]["id"], with_test)
    c.check(f"bug + new test: {data['new_test']['id']} fails", got == "failed", got)

    fetch.apply_edit(repo, project.fix)
    fixed = suite(project, repo, work)
    c.check("fix + new test: suite passes", fixed.returncode == 0, fixed.tail(25))
    got = outcome(project, repo, work, data["new_test"]["id"], fixed)
    c.check(f"fix: {data['new_test']['id']} passes", got == "passed", got)
    return {"name": project.name, "version": project.version, "verified": c.ok,
            "setup_cold_s": cold.seconds, "setup_warm_s": warm.seconds, "suite_s": base.seconds,
            "suite_summary": summary(base.output), "left_in_worktree": left_by_runs, "checks": c.checks}


def verify_all(projects: list[Project], keep: Path | None) -> list[dict[str, Any]]:
    records = []
    for project in projects:
        print(f"== {project.spec}", flush=True)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"corpus-{project.name}-", dir=keep))
        try:
            records.append(verify(project, work))
        except CorpusError as exc:
            print(f"    BAD {exc}", flush=True)
            records.append({"name": project.name, "version": project.version, "verified": False,
                            "error": str(exc)})
        finally:
            if keep is None:
                shutil.rmtree(work, ignore_errors=True)
    return records


def save(records: list[dict[str, Any]]) -> None:
    """Merge these records into results.json (by name), in projects.yaml order."""
    old = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else []
    merged = {r["name"]: r for r in old} | {r["name"]: r for r in records}
    order = [p.name for p in fetch.load_projects()]
    rows = [merged[n] for n in order if n in merged]
    RESULTS_FILE.write_text(json.dumps(rows, indent=1) + "\n")


def table() -> str:
    """The Markdown table of REPORT.md, from projects.yaml and results.json."""
    results = {r["name"]: r for r in json.loads(RESULTS_FILE.read_text())} if RESULTS_FILE.exists() else {}
    head = ("| project | version | source | backend | layout | runner | covers | set-up cold s | "
            "set-up warm s | suite s | base run | verified |\n"
            "|---|---|---|---|---|---|---|---:|---:|---:|---|---|\n")
    rows = []
    for p in fetch.load_projects():
        r, d = results.get(p.name, {}), p.data
        rows.append(f"| {p.name} | {p.version} | {p.source} | {d['backend']} | {d['layout']} | "
                    f"{d['runner']} | {', '.join(d['covers'])} | {r.get('setup_cold_s', '')} | "
                    f"{r.get('setup_warm_s', '')} | {r.get('suite_s', '')} | {r.get('suite_summary', '')} | "
                    f"{'yes' if r.get('verified') else 'no'} |")
    return head + "\n".join(rows) + "\n"


def _collapse(paths: list[str]) -> list[str]:
    """Paths with everything below a __pycache__/ or .pytest_cache/ folder folded into it."""
    out: list[str] = []
    for path in paths:
        for folder in ("__pycache__/", ".pytest_cache/"):
            if folder in path:
                path = path[:path.index(folder) + len(folder)]
        if path not in out:
            out.append(path)
    return out


def notes() -> str:
    """Per project: its notes from projects.yaml and what its runs left in the worktree."""
    results = {r["name"]: r for r in json.loads(RESULTS_FILE.read_text())} if RESULTS_FILE.exists() else {}
    parts = []
    for p in fetch.load_projects():
        left = results.get(p.name, {}).get("left_in_worktree", {})
        left = {"changed": left} if isinstance(left, list) else left
        lines = [f"### {p.name} {p.version}", "", f"- Developers run: `{p.data['dev_command']}`",
                 f"- Test deps: {p.data['test_deps']}"]
        lines += [f"- {note}" for note in p.data["notes"]]
        shown = {k: _collapse(v) for k, v in left.items() if v}
        if shown:
            lines.append("- Left in the worktree by set-up and the base run: " + "; ".join(
                f"{kind}: {', '.join(f'`{f}`' for f in files)}" for kind, files in shown.items()))
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _replace_between(text: str, marker: str, body: str) -> str:
    start, end = f"<!-- {marker} -->\n", f"<!-- /{marker} -->"
    before, rest = text.split(start, 1)
    return before + start + body + rest[rest.index(end):]


def write_report() -> None:
    """Rewrite the generated parts of REPORT.md (between the TABLE and NOTES markers)."""
    text = _replace_between(REPORT_FILE.read_text(), "TABLE", table())
    REPORT_FILE.write_text(_replace_between(text, "NOTES", notes()))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME", help="this project only (repeatable)")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temp dir, removed)")
    parser.add_argument("--report", action="store_true", help="only rewrite REPORT.md's table")
    args = parser.parse_args(argv)
    if not args.report:
        projects = [p for p in fetch.load_projects() if not args.only or p.name in args.only]
        records = verify_all(projects, args.keep)
        save(records)
        print(f"{sum(r['verified'] for r in records)}/{len(records)} verified")
    write_report()
    return 0 if args.report or all(r["verified"] for r in records) else 1


if __name__ == "__main__":
    raise SystemExit(_main())
