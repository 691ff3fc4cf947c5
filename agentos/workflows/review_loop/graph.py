"""The one review loop used by triage, LLD and spec: draft → validate → review → revise.

The loop always ends, and records why: approved, blocked by the reviewer, the revision cap,
or stagnation (a revision that changes nothing, or a blocking finding raised again after a
revision claimed to address it). An unapproved document never passes. Mechanical problems go
back to the drafter before any reviewer is paid to read the draft.

What the prompts and checks are built from is in context.py.
"""

from __future__ import annotations

import difflib
from typing import Literal

from langgraph.graph import END, START, StateGraph

from agentos.markdown.parse import unwrap_document
from agentos.progress.view import plural
from agentos.readmodel.model import gate_label
from agentos.llm.base import Message, Request
from agentos.workflows.prompts import data_block
from agentos.workflows.review_loop.context import ROLE_DRAFTER, ROLE_REVIEWER, DocumentContext
from agentos.workflows.review_loop.edits import Revision, apply_edits
from agentos.workflows.review_loop.kinds import DocKind, required_sections, validate
from agentos.workflows.review_loop.lineage import Lineage
from agentos.workflows.review_loop.state import DocState, Review, same_model_warning
from agentos.workflows.services import Services

ASK_DRAFT = "Write the {title}. Answer with the complete Markdown document only."
ASK_REVISE = (
    "Revise the {title} to address every point above. Answer as JSON: `edits` is a list of "
    "{{search, replace}} pairs, each `search` copied exactly from the current draft and "
    "occurring once in it; `addressed` lists the ids of the findings your edits address."
)
ASK_REDRAW = "Edits could not be applied. Answer with the complete revised Markdown document only."
SIMILAR = 0.85


class ReviewLoop:
    """Nodes of the loop for one document kind, bound to the run's services."""

    def __init__(self, kind: DocKind, services: Services):
        self.kind = kind
        self.s = services
        self.cfg = getattr(services.config.stages, kind.name)
        self.ctx = DocumentContext(kind, services)
        self.lineage = Lineage(services.run_dir / kind.name)

    def _client(self, state: DocState, model_id: str):
        return self.s.models.client(self.kind.name, model_id, state.get("attempt", 1))

    # -- nodes ---------------------------------------------------------------------------
    def draft(self, state: DocState) -> DocState:
        if warning := same_model_warning(self.kind.name, "drafter", self.cfg.drafter, self.cfg.reviewer):
            self.s.progress.emit("note", stage=self.kind.name, message=warning)
        request = self.ctx.request(ROLE_DRAFTER, [ASK_DRAFT.format(title=self.kind.title)], f"{self.kind.name}.draft", 0,
                                   self.cfg.drafter)
        response = self._client(state, self.cfg.drafter).complete(request)
        draft = unwrap_document(response.text)
        self.lineage.step("draft", request, response, draft=draft)
        return {"draft": draft, "rounds": state.get("rounds", 0),
                "revisions": state.get("revisions", 0)}

    def check(self, state: DocState) -> DocState:
        errors = validate(self.kind, state["draft"], self.ctx.template, self.ctx.checks)
        if not errors:
            return {"validation_errors": []}
        if state.get("revisions", 0) >= self.cfg.max_revisions:
            return self._end(state, "max_revisions", f"draft still fails validation: {'; '.join(errors)}", errors)
        return {"validation_errors": errors}

    def review(self, state: DocState) -> DocState:
        rounds = state.get("rounds", 0)
        request = self.ctx.request(ROLE_REVIEWER, [data_block(f"{self.kind.title} to review", state["draft"])],
                                   f"{self.kind.name}.review", rounds, self.cfg.reviewer)
        verdict, response = self._client(state, self.cfg.reviewer).structured(request, Review)
        self.lineage.step(f"review-{rounds + 1}", request, response, verdict=verdict.model_dump())
        entry = {"round": rounds + 1, "verdict": verdict.verdict, "summary": verdict.summary,
                 "findings": [f.model_dump() for f in verdict.findings],
                 "drafter": self.cfg.drafter, "reviewer": self.cfg.reviewer}
        update: DocState = {"review": verdict.model_dump(), "rounds": rounds + 1, "history": [entry]}
        blocking = sum(f.severity == "blocking" for f in verdict.findings)
        found = f", {plural(len(verdict.findings), 'finding')}" + (f" ({blocking} blocking)" if blocking else "") \
            if verdict.findings else ""
        self.s.progress.emit("step", stage=self.kind.name, verdict=verdict.verdict,
                             message=f"review round {rounds + 1} · {verdict.verdict}{found}")
        return {**update, **self._after_review(state, verdict)}

    def _after_review(self, state: DocState, verdict: Review) -> DocState:
        """The loop's end, if this review ends it: approved, blocked, stagnation or the cap."""
        if verdict.verdict == "APPROVED":
            return {"exit_reason": "approved"}
        if verdict.verdict == "BLOCKED":
            return self._end(state, "blocked", f"reviewer blocked: {verdict.summary}")
        repeated = raised_again(verdict, state.get("claimed", []))
        if repeated:
            return self._end(state, "stagnation", f"finding {repeated} raised again after a revision "
                             "that claimed to address it")
        if state.get("revisions", 0) >= self.cfg.max_revisions:
            return self._end(state, "max_revisions",
                             f"not approved after {plural(self.cfg.max_revisions, 'revision')}: {verdict.summary}")
        return {}

    def revise(self, state: DocState) -> DocState:
        n = state.get("revisions", 0)
        findings = self._findings(state)
        asks = [data_block(f"current {self.kind.title}", state["draft"]), data_block("findings", _render(findings)),
                ASK_REVISE.format(title=self.kind.title)]
        request = self.ctx.request(ROLE_DRAFTER, asks, f"{self.kind.name}.revise", n, self.cfg.drafter)
        text, revision, how, response = self._revised_text(state, request)
        self.lineage.step(f"revise-{n + 1}", request, response, draft=text, previous=state["draft"], how=how)
        update: DocState = {"revisions": n + 1, "human_feedback": [], "redraws": state.get("redraws", 0) + (how == "redraw")}
        if text.strip() == state["draft"].strip():
            return self._end(state, "stagnation", "the revision did not change the document")
        claimed = [f for f in findings if f["id"] in set(revision.addressed if revision else [])]
        return {**update, "draft": text, "claimed": claimed}

    def _revised_text(self, state: DocState, request: Request):
        """Apply the drafter's edits; ask once more quoting the problems; last resort: redraw."""
        client = self._client(state, self.cfg.drafter)
        required = required_sections(self.ctx.template)
        revision, response = client.structured(request, Revision)
        text, problems = apply_edits(state["draft"], revision.edits, required)
        if not problems:
            return text, revision, "edits", response
        retry = request.model_copy(update={"purpose": f"{request.purpose}.again", "messages": [
            *request.messages, Message(role="assistant", content=response.text),
            Message(role="user", content=data_block("edit problems", _render_list(problems))
                    + "\nThese edits were refused. Send corrected edits.")]})
        revision, response = client.structured(retry, Revision)
        text, problems = apply_edits(state["draft"], revision.edits, required)
        if not problems:
            return text, revision, "edits (second try)", response
        self.s.progress.emit("note", stage=self.kind.name, message=f"edits refused twice ({problems[0]}); full redraw")
        redraw = request.model_copy(update={"purpose": f"{self.kind.name}.redraw",
                                            "messages": [*request.messages[:-1], Message(role="user", content=ASK_REDRAW)]})
        response = client.complete(redraw)
        return unwrap_document(response.text), revision, "redraw", response

    def _findings(self, state: DocState) -> list[dict]:
        """What the next revision must address: human feedback, mechanical problems, reviewer findings."""
        if state.get("human_feedback"):
            return [{"id": f"H{i}", "section": "", "severity": "blocking", "text": t}
                    for i, t in enumerate(state["human_feedback"], 1)]
        if state.get("validation_errors"):
            return [{"id": f"V{i}", "section": "", "severity": "blocking", "text": t}
                    for i, t in enumerate(state["validation_errors"], 1)]
        return list((state.get("review") or {}).get("findings", []))

    def finalize(self, state: DocState) -> DocState:
        text = state["draft"].rstrip() + "\n\n" + review_log(state.get("history", []))
        path = self.s.workspace.write_doc(
            self.kind.name, text, f"docs({self.kind.name}): {self.kind.title} for #{state['issue_number']}"
        )
        self.s.progress.emit("artifact_written", stage=self.kind.name, data={"path": path})
        return {"outcome": "PASS", "doc_path": path, "exit_reason": "approved",
                "message": f"approved after {plural(state.get('rounds', 0), 'review round')}"}

    def _end(self, state: DocState, reason: str, message: str, errors: list[str] | None = None) -> DocState:
        self.lineage.write("blocked-draft.md", state.get("draft", ""))
        update: DocState = {"outcome": "BLOCK", "exit_reason": reason, "message": message}
        if errors is not None:
            update["validation_errors"] = errors
        return update


def raised_again(verdict: Review, claimed: list[dict], severities: tuple[str, ...] = ("blocking",)) -> str | None:
    """Id of a finding (of the given severities) that the previous revision claimed to address,
    if raised again."""
    for finding in verdict.findings:
        if finding.severity not in severities:
            continue
        for old in claimed:
            same_id = finding.id == old["id"] and finding.section.lower() == old.get("section", "").lower()
            similar = difflib.SequenceMatcher(None, finding.text.lower(), old["text"].lower()).ratio() >= SIMILAR
            if same_id or similar:
                return finding.id
    return None


def _render(findings: list[dict]) -> str:
    return "\n".join(f"- {f['id']} [{f['severity']}] {f.get('section') or ''}: {f['text']}" for f in findings) or "- (none)"


def _render_list(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def review_log(history: list[dict]) -> str:
    """The log that ends a document: each review round, and each gate rejection by a person."""
    lines = ["## Review log", ""]
    for h in history:
        if h.get("human"):
            lines.append(f"- Gate {gate_label(h.get('gate'))}: REJECTED by {h.get('by')}: {' '.join(str(h['summary']).split())}")
        else:
            lines.append(f"- Round {h['round']}: {h['verdict']} by {h['reviewer']} (drafted by {h['drafter']}): {h['summary']}")
    rounds = [h for h in history if not h.get("human")]
    final = rounds[-1]["verdict"] if rounds else "UNREVIEWED"
    lines += ["", f"Status: {final} after {plural(len(rounds), 'review round')}"]
    return "\n".join(lines) + "\n"


def start(state: DocState) -> Literal["draft", "validate", "revise"]:
    """A document handed in (a rejected gate's revision) skips the draft; human feedback on it
    goes straight to a revision."""
    if not state.get("draft"):
        return "draft"
    return "revise" if state.get("human_feedback") else "validate"


def after_validate(state: DocState) -> Literal["review", "revise", "__end__"]:
    if state.get("outcome"):
        return END
    return "revise" if state.get("validation_errors") else "review"


def after_review(state: DocState) -> Literal["finalize", "revise", "__end__"]:
    if state.get("outcome"):
        return END
    return "finalize" if state["review"]["verdict"] == "APPROVED" else "revise"


def after_revise(state: DocState) -> Literal["validate", "__end__"]:
    return END if state.get("outcome") else "validate"


def build_document_graph(kind: DocKind, services: Services, checkpointer=None):
    loop = ReviewLoop(kind, services)
    g = StateGraph(DocState)
    g.add_node("draft", loop.draft)
    g.add_node("validate", loop.check)
    g.add_node("review", loop.review)
    g.add_node("revise", loop.revise)
    g.add_node("finalize", loop.finalize)
    g.add_conditional_edges(START, start)
    g.add_edge("draft", "validate")
    g.add_conditional_edges("validate", after_validate)
    g.add_conditional_edges("review", after_review)
    g.add_conditional_edges("revise", after_revise)
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer, name=f"{kind.name}_workflow")
