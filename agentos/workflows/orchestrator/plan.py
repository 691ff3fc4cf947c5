"""Which stages run and which reuse existing artifacts, decided before anything is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agentos.config import OrchestratorConfig
from agentos.errors import MissingArtifactError, UsageError
from agentos.workflows.orchestrator.config import GATE_AFTER, skips_existing
from agentos.workflows.orchestrator.state import STAGES
from agentos.workflows.review_loop.documents import is_approved
from agentos.workflows.workspace import Workspace

DOC_STAGES = ("triage", "lld", "spec")
ARTIFACT_FIELD = {"triage": "issue_brief_path", "lld": "lld_path", "spec": "spec_path"}


@dataclass
class StagePlan:
    action: str  # "run" | "skip"
    reason: str
    artifact: str | None = None
    gate_owed: bool = False
    """Skipped, but its gate still asks: the document was reused without a human approving it there."""


def make_plan(
    config: OrchestratorConfig,
    workspace: Workspace,
    skip: set[str] | None = None,
    resume_from: str | None = None,
) -> dict[str, dict]:
    """Stage → plan. Raises MissingArtifactError when a requested skip has nothing to reuse."""
    skip = set(skip or ())
    if resume_from is not None and resume_from not in STAGES:
        raise UsageError(f"--resume-from {resume_from!r} is not a stage", f"one of: {', '.join(STAGES)}")
    cut = STAGES.index(resume_from) if resume_from else 0
    plan = {}
    for i, stage in enumerate(STAGES):
        if resume_from and i >= cut and stage not in skip:
            plan[stage] = asdict(StagePlan("run", f"--resume-from {resume_from}: runs again"))
            continue
        forced = stage in skip or (resume_from is not None and i < cut)
        plan[stage] = asdict(_plan_stage(stage, config, workspace, forced, resume_from))
    return plan


def _plan_stage(stage: str, config: OrchestratorConfig, ws: Workspace, forced: bool, resume_from: str | None) -> StagePlan:
    why = f"--resume-from {resume_from}" if resume_from else f"--skip-{stage}"
    if stage in DOC_STAGES:
        found = ws.read_doc(stage)
        if forced:
            if found is None:
                raise MissingArtifactError(
                    f"{why} needs an existing {stage} document, but {ws.doc_path(stage)} is on neither "
                    f"{ws.branch} nor {ws.base}",
                    f"run without {why} so the {stage} stage produces it",
                )
            return StagePlan("skip", f"{why}: reusing {found[1]}", ws.doc_path(stage))
        if found and skips_existing(config, stage) and is_approved(found[0]):
            return StagePlan("skip", f"approved document exists at {found[1]}", ws.doc_path(stage))
        return StagePlan("run", "no approved document yet" if not found else "existing document is not approved")
    if forced:  # impl and review: their artifact is the branch's commits
        if not _branch_has_work(ws):
            raise MissingArtifactError(
                f"{why} needs implementation commits on {ws.branch}, but it has none beyond {ws.base}",
                "run without it so the implementation stage produces them",
            )
        return StagePlan("skip", f"{why}: reusing the commits on {ws.branch}", ws.branch)
    return StagePlan("run", RUNS[stage])


RUNS = {"impl": "always runs", "review": "reviews the diff, tries to break it", "pr": "opens or updates the PR"}


def _branch_has_work(ws: Workspace) -> bool:
    root = ws.repo
    if not root.rev_parse(ws.branch):
        return False
    return bool(root.run("rev-list", "--count", f"{ws.base}..{ws.branch}").strip("0\n"))


def owe_gates(plan: dict[str, dict], approved: set[str]) -> dict[str, dict]:
    """The plan of a run that replaces one whose checkpoints were lost: each document it reuses
    still stops at its gate unless a human approved that gate in the lost run."""
    return {stage: {**p, "gate_owed": p["action"] == "skip" and stage in DOC_STAGES
                    and not set(GATE_AFTER[stage]) <= approved} for stage, p in plan.items()}
