"""`agentos demo`: a sample repository, one issue, and the whole pipeline on scripted models.

Everything but the model answers is real: the graphs, checkpoints, git worktree, document
validation, test runs and the PR record. The answers come from the YAML scripts copied into
the sample repository's .agentos/scripted/, where a user can read (and edit) them. The tests
run in the sandbox where bubblewrap works; on a machine without it the demo still runs (its
model answers are our own scripts) with `sandbox: off` in its config, and says so.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import yaml

from agentos.demo.sample import FILES, ISSUE_BODY, ISSUE_TITLE
from agentos.errors import ExitCode, UsageError
from agentos.repo.git import Git

MARKER = ".agentos/demo.marker"
SCRIPTS = ("drafter", "reviewer", "implementer")


def demo_config(sandboxed: bool = True) -> dict:
    drafter, reviewer, implementer = (f"scripted:.agentos/scripted/{n}.yaml" for n in SCRIPTS)
    doc = {"drafter": drafter, "reviewer": reviewer}
    return {"orchestrator": {
        "stages": {"triage": dict(doc), "lld": {**doc, "max_revisions": 2}, "spec": dict(doc),
                   "implementation": {"implementer": implementer, "max_test_retries": 1, "test_timeout_s": 120}},
        # The demo runs unattended; real use keeps the default human approval before the PR.
        "gates": {"before_pr": False},
        **({} if sandboxed else {"sandbox": "off"}),
    }}


def create_sample(target: Path, bwrap: str = "bwrap") -> Path:
    """A fresh git repository with the sample package, config, scripts and one issue; its
    config turns the sandbox off only where `bwrap` cannot make one."""
    _clear(target)
    for rel, text in FILES.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
    _git(target, "init", "-q", "-b", "main")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "textkit: slugify")
    scripted = target / ".agentos" / "scripted"
    scripted.mkdir(parents=True)
    for name in SCRIPTS:
        text = resources.files("agentos.demo").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        (scripted / f"{name}.yaml").write_text(text, encoding="utf-8")
    config = demo_config(sandboxed=sandbox_works(bwrap))
    (target / ".agentos" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (target / MARKER).write_text("created by `agentos demo`; safe to delete\n")
    from agentos.forge.local import LocalForge

    LocalForge(target).create_issue(ISSUE_TITLE, ISSUE_BODY, ["bug"])
    return target


def sandbox_works(bwrap: str) -> bool:
    """Whether bubblewrap can run a sandbox here (else the demo runs its own scripts unconfined)."""
    from agentos.sandbox.bubblewrap import Bubblewrap

    return Bubblewrap(bwrap).available() is None


def sandbox_line(root: Path) -> str:
    """Which way the demo's tests ran, in a line."""
    config = yaml.safe_load((root / ".agentos" / "config.yaml").read_text()) or {}
    if config.get("orchestrator", {}).get("sandbox") in ("off", False):
        return ("  sandbox            off: bubblewrap is missing here, so the tests ran unconfined (the model answers "
                "are our own scripts); real runs refuse without it: apt-get install bubblewrap")
    return "  sandbox            bubblewrap: the tests ran with no network, no secrets, nothing outside the worktree"


def _clear(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise UsageError(f"{target} exists and is not an earlier demo", "pass --dir PATH to a new folder")
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)


def _git(cwd: Path, *args: str) -> None:
    ident = ["-c", "user.name=agentos demo", "-c", "user.email=demo@agentos.invalid"]
    Git(cwd).run(*ident, *args)


def default_dir(cwd: Path | None = None) -> Path:
    """Where the demo goes without --dir: ./agentos-demo, unless that would leave an untracked
    folder in a git checkout the user is in; then a new folder under the system's temp dir."""
    here = (cwd or Path.cwd()).resolve()
    if Git(here).call("rev-parse", "--is-inside-work-tree").returncode == 0:
        return Path(tempfile.mkdtemp(prefix="agentos-demo-"))
    return here / "agentos-demo"


def run_demo(target: Path | None, plain: bool = False) -> str:
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    root = create_sample((target or default_dir()).resolve())
    result = orchestrate(RunOptions(issue=1, repo=root, plain=plain))
    if result.exit_code != ExitCode.DONE:
        raise UsageError(f"the demo did not finish: {result.message}")
    return _report(root, result)


def agentos_command() -> str:
    """How to call `agentos` from the user's shell: by name when it is on PATH, else by the path
    of the one beside this interpreter (e.g. .venv/bin/agentos after `make demo`)."""
    if shutil.which("agentos"):
        return "agentos"
    beside = Path(sys.executable).parent / "agentos"
    return shlex.quote(str(beside)) if beside.exists() else "agentos"


def _review_line(state: dict, run_dir: Path) -> str:
    """The code review in a line: its verdict and the adversarial tests it kept."""
    review = (state.get("stage_results") or {}).get("review") or {}
    kept = ", ".join(t["path"] for t in review.get("kept_tests") or []) or "none"
    return (f"  code review        {review.get('message', 'not run')}; kept adversarial tests: {kept} "
            f"({run_dir}/review/report.md)")


def _report(root: Path, result) -> str:
    state = result.state
    run_dir = root / ".agentos" / "runs" / result.run_id
    worktree = root / ".agentos" / "worktrees" / "1"
    lines = [
        f"Demo finished: issue #1 → {state.get('pr_url')}",
        "",
        "The model answers were scripted (see .agentos/scripted/); everything else ran for real.",
        f"  sample repository  {root}",
        f"  issue              {root}/.agentos/issues/1.md",
        f"  worktree / branch  {worktree}  (agentos/issue-1)",
        f"  issue brief        {worktree}/{state.get('issue_brief_path')}",
        f"  LLD                {worktree}/{state.get('lld_path')}",
        f"  spec               {worktree}/{state.get('spec_path')}",
        f"  test run           {(state.get('test_run') or {}).get('command', '')}",
        _review_line(state, run_dir),
        sandbox_line(root),
        f"  run folder         {run_dir}  (events.jsonl, calls.jsonl, drafts and verdicts)",
        "",
        f"Next: {agentos_command()} status 1 --repo {shlex.quote(str(root))}",
        "Real models: set stages.*.drafter/reviewer/implementer in .agentos/config.yaml to a provider:model.",
    ]
    return "\n".join(lines)
