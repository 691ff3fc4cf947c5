"""People's gate decisions as part of the run's record: the state's list of decisions (which the
PR body shows), the approved document's review log, and what a rejection adds to the history
the document's revision is logged with. An approval after a rejection says it overrides it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentos.progress.events import now_iso
from agentos.readmodel.model import gate_label

if TYPE_CHECKING:
    from agentos.workflows.services import Services


def overrides(earlier: list[dict[str, Any]], gate: str, action: str | None) -> str:
    """For an approval right after a rejection at the same gate: what it overrides."""
    same = [d for d in earlier if d.get("gate") == gate]
    if action == "approve" and same and same[-1].get("action") == "reject":
        return f"overrides the rejection by {same[-1].get('by') or 'someone'}"
    return ""


def entry(gate: str, stage: str, decision: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision as the run keeps it: gate, stage, action, who, feedback, when, what it overrides."""
    action = decision.get("action") or "?"
    return {"gate": gate, "stage": stage, "action": action, "by": decision.get("by") or "someone",
            "feedback": decision.get("feedback") or "", "at": now_iso(),
            "overrides": overrides(earlier, gate, action)}


def log_line(d: dict[str, Any]) -> str:
    """The decision as a review log line: "- Gate after LLD: APPROVED by ana (overrides …)"."""
    verdict = {"approve": "APPROVED", "reject": "REJECTED"}.get(d.get("action", ""), str(d.get("action")).upper())
    extra = f" ({d['overrides']})" if d.get("overrides") else ""
    said = f": {' '.join(str(d['feedback']).split())}" if d.get("feedback") else ""
    return f"- Gate {gate_label(d.get('gate'))}: {verdict} by {d.get('by')}{extra}{said}"


def rejection_history(decisions: list[dict[str, Any]], stage: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`history` with the stage's gate rejections not yet in it, so the revision's review log shows them."""
    seen = {h.get("at") for h in history if h.get("human")}
    new = [{"human": True, "gate": d["gate"], "verdict": "REJECTED", "by": d.get("by", ""), "at": d["at"],
            "summary": d.get("feedback", "")}
           for d in decisions if d.get("stage") == stage and d.get("action") == "reject" and d.get("at") not in seen]
    return [*history, *new]


def note_approval(services: Services, d: dict[str, Any]) -> None:
    """Add an approval to the end of the approved document's review log, committed on the branch."""
    found = services.workspace.read_doc(d["stage"]) if d["stage"] in ("triage", "lld", "spec") else None
    if not found:
        return
    line = log_line(d)
    if found[0].rstrip().endswith(line):  # the gate node ran again after a kill: already noted
        return
    services.workspace.write_doc(d["stage"], found[0].rstrip() + "\n" + line + "\n",
                                 f"docs({d['stage']}): gate {d['gate']} approved by {d['by']}")
