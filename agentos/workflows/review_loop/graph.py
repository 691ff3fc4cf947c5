"""The one review loop used by triage, LLD and spec: draft → validate → review → revise.

The loop always ends, and records why: approved, blocked by the reviewer, the revision cap,
or stagnation (a revision that changes nothing). An unapproved document never passes.
"""

from __future__ import annotations


from langgraph.graph import END, START, StateGraph

from agentos.forge.base import Issue
from agentos.llm.base import Message, Request
from agentos.repo.context import repo_listing
from agentos.workflows.prompts import UNTRUSTED_NOTE, data_block
from agentos.workflows.review_loop.kinds import DocKind, validate
from agentos.workflows.review_loop.state import DocState, Review
from agentos.workflows.routing import route_next
from agentos.workflows.services import Services

ROLE_DRAFTER = (
    "You are a senior engineer writing a {title} for a code change. {purpose}\n"
    "Answer with the complete Markdown document only, following the template's headings "
    "exactly (## level). Be concrete: name real files, functions and tests.\n\n{note}\n\n"
    "Template:\n{template}"
)
ROLE_REVIEWER = (
    "You are a demanding reviewer of a {title}. {purpose}\n"
    "Judge it against the issue and the earlier documents. Verdict APPROVED only when an "
    "implementer could follow it without guessing; REVISE with specific findings otherwise; "
    "BLOCKED only when the issue itself cannot be done as stated. Answer as JSON matching the "
    "schema.\n\n{note}\n\nTemplate the document must follow:\n{template}"
)


class ReviewLoop:
    """Nodes of the loop for one document kind, bound to the run's services."""

    def __init__(self, kind: DocKind, services: Services):
        self.kind = kind
        self.s = services
        self.cfg = getattr(services.config.stages, kind.name)
        self.template = kind.template(services.layout.templates_dir)

    # -- prompts -------------------------------------------------------------------------
    def _context(self, issue: Issue) -> str:
        """The stable part of every prompt: repository map, the issue, earlier documents."""
        parts = [
            data_block("repository files", repo_listing(self.s.workspace.ensure(), self.cfg.context_tokens * 4)),
            data_block(f"issue #{issue.number}", f"# {issue.title}\n\n{issue.body}"),
        ]
        for name in self.kind.inputs:
            found = self.s.workspace.read_doc(name)
            if found:
                parts.append(data_block(f"approved {name} document", found[0]))
        return "\n\n".join(parts)

    def _system(self, role: str) -> str:
        return role.format(
            title=self.kind.title, purpose=self.kind.purpose, note=UNTRUSTED_NOTE, template=self.template
        )

    def _client(self, state: DocState, model_id: str):
        return self.s.models.client(self.kind.name, model_id, state.get("attempt", 1))

    # -- nodes ---------------------------------------------------------------------------
    def draft(self, state: DocState) -> DocState:
        if state.get("draft"):
            return {"next": "revise" if state.get("human_feedback") else "validate"}
        issue = self.s.forge.get_issue(state["issue_number"])
        request = Request(
            system=self._system(ROLE_DRAFTER),
            messages=[Message(role="user", content=self._context(issue) + f"\n\nWrite the {self.kind.title}.")],
            purpose=f"{self.kind.name}.draft",
        )
        text = self._client(state, self.cfg.drafter).complete(request).text
        self._keep(f"draft-0.md", text)
        return {"draft": text, "next": "validate", "rounds": state.get("rounds", 0),
                "revisions": state.get("revisions", 0)}

    def check(self, state: DocState) -> DocState:
        errors = validate(self.kind, state["draft"])
        if not errors:
            return {"validation_errors": [], "next": "review"}
        if state.get("revisions", 0) >= self.cfg.max_revisions:
            return self._end(state, "max_revisions", f"draft still fails validation: {'; '.join(errors)}", errors)
        return {"validation_errors": errors, "next": "revise"}

    def review(self, state: DocState) -> DocState:
        issue = self.s.forge.get_issue(state["issue_number"])
        request = Request(
            system=self._system(ROLE_REVIEWER),
            messages=[
                Message(role="user", content=self._context(issue)),
                Message(role="user", content=data_block(f"{self.kind.title} to review", state["draft"])),
            ],
            purpose=f"{self.kind.name}.review",
            turn=state.get("rounds", 0),
        )
        verdict, _ = self._client(state, self.cfg.reviewer).structured(request, Review)
        rounds = state.get("rounds", 0) + 1
        entry = {"round": rounds, "verdict": verdict.verdict, "summary": verdict.summary,
                 "findings": [f.model_dump() for f in verdict.findings],
                 "drafter": self.cfg.drafter, "reviewer": self.cfg.reviewer}
        self._keep(f"review-{rounds}.json", verdict.model_dump_json(indent=2))
        update: DocState = {"review": verdict.model_dump(), "rounds": rounds,
                            "history": [*state.get("history", []), entry], "human_feedback": []}
        return {**update, **self._after_review(state, verdict, update)}

    def _after_review(self, state: DocState, verdict: Review, update: DocState) -> DocState:
        merged = {**state, **update}
        if verdict.verdict == "APPROVED":
            return {"next": "finalize", "exit_reason": "approved"}
        if verdict.verdict == "BLOCKED":
            return self._end(merged, "blocked", f"reviewer blocked: {verdict.summary}")
        if state.get("revisions", 0) >= self.cfg.max_revisions:
            return self._end(merged, "max_revisions",
                             f"not approved after {self.cfg.max_revisions} revision(s): {verdict.summary}")
        return {"next": "revise"}

    def revise(self, state: DocState) -> DocState:
        issue = self.s.forge.get_issue(state["issue_number"])
        request = Request(
            system=self._system(ROLE_DRAFTER),
            messages=[
                Message(role="user", content=self._context(issue)),
                Message(role="user", content=self._revision_ask(state)),
            ],
            purpose=f"{self.kind.name}.revise",
            turn=state.get("revisions", 0),
        )
        text = self._client(state, self.cfg.drafter).complete(request).text
        revisions = state.get("revisions", 0) + 1
        self._keep(f"draft-{revisions}.md", text)
        if text.strip() == state["draft"].strip():
            return self._end({**state, "revisions": revisions}, "stagnation",
                             "the revision did not change the document")
        return {"draft": text, "revisions": revisions, "next": "validate", "human_feedback": []}

    def _revision_ask(self, state: DocState) -> str:
        asks = [data_block(f"current {self.kind.title}", state["draft"])]
        if state.get("validation_errors"):
            asks.append(data_block("mechanical problems", "\n".join(f"- {e}" for e in state["validation_errors"])))
        review = state.get("review") or {}
        if review and review.get("verdict") != "APPROVED" and not state.get("human_feedback"):
            findings = "\n".join(f"- [{f['severity']}] {f['id']} ({f['section']}): {f['text']}"
                                 for f in review.get("findings", []))
            asks.append(data_block("reviewer findings", f"{review.get('summary', '')}\n{findings}"))
        if state.get("human_feedback"):
            asks.append(data_block("feedback from the human approver",
                                   "\n".join(f"- {f}" for f in state["human_feedback"])))
        asks.append(f"Revise the {self.kind.title} to address every point. Answer with the complete revised document.")
        return "\n\n".join(asks)

    def finalize(self, state: DocState) -> DocState:
        text = state["draft"].rstrip() + "\n\n" + review_log(state.get("history", []))
        path = self.s.workspace.write_doc(
            self.kind.name, text, f"docs({self.kind.name}): {self.kind.title} for #{state['issue_number']}"
        )
        self.s.progress.emit("artifact_written", stage=self.kind.name, data={"path": path})
        rounds = state.get("rounds", 0)
        return {"outcome": "PASS", "doc_path": path, "exit_reason": "approved",
                "message": f"approved after {rounds} review round(s)"}

    def _end(self, state: DocState, reason: str, message: str, errors: list[str] | None = None) -> DocState:
        self._keep("blocked-draft.md", state.get("draft", ""))
        update: DocState = {"outcome": "BLOCK", "exit_reason": reason, "message": message, "next": "end"}
        if errors is not None:
            update["validation_errors"] = errors
        return update

    def _keep(self, name: str, text: str) -> None:
        """Lineage: every draft and verdict under the run's folder (idempotent overwrite)."""
        folder = self.s.run_dir / self.kind.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def review_log(history: list[dict]) -> str:
    lines = ["## Review log", ""]
    for h in history:
        lines.append(f"- Round {h['round']}: {h['verdict']} by {h['reviewer']} (drafted by {h['drafter']}): {h['summary']}")
    final = history[-1]["verdict"] if history else "UNREVIEWED"
    lines += ["", f"Status: {final} after {len(history)} review round(s)"]
    return "\n".join(lines) + "\n"



def build_document_graph(kind: DocKind, services: Services, checkpointer=None):
    loop = ReviewLoop(kind, services)
    g = StateGraph(DocState)
    g.add_node("draft", loop.draft)
    g.add_node("validate", loop.check)
    g.add_node("review", loop.review)
    g.add_node("revise", loop.revise)
    g.add_node("finalize", loop.finalize)
    g.add_edge(START, "draft")
    g.add_conditional_edges("draft", route_next, ["validate", "revise"])
    g.add_conditional_edges("validate", route_next, ["review", "revise", END])
    g.add_conditional_edges("review", route_next, ["finalize", "revise", END])
    g.add_conditional_edges("revise", route_next, ["validate", END])
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer, name=f"{kind.name}_workflow")
