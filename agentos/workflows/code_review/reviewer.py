"""The reviewer's round: what it sees, its verdict, and where the loop goes from there.

The reviewer sees the spec and the LLD (with the issue and the repository, the stable part of
the review loop's prompts), then this round's diff against the base, the test report (base →
red → green), the files the diff touches within `context_tokens` (a file whose text before the
change is already whole in the shared prefix is not sent again: the diff shows what changed), and
what became of its last round. Its verdict says APPROVED | REVISE | BLOCKED; BLOCKED and a finding raised again after a
fix round claimed it end the loop at once.
"""

from __future__ import annotations

from typing import Any

from agentos.markdown.escape import fenced
from agentos.progress.view import plural
from agentos.workflows.code_review import adversarial, prompts
from agentos.workflows.code_review.schema import CodeReview
from agentos.workflows.code_review.state import ReviewState
from agentos.workflows.implementation import report
from agentos.workflows.implementation.worktree import StageWorktree
from agentos.workflows.prompts import data_block
from agentos.workflows.review_loop.context import DocumentContext
from agentos.workflows.review_loop.graph import raised_again
from agentos.workflows.review_loop.kinds import DocKind
from agentos.workflows.review_loop.lineage import Lineage

REVIEW = DocKind(name="review", title="code change", purpose=prompts.PURPOSE, inputs=("triage", "lld", "spec"))
MUST_FIX = ("blocking", "major")
"""Severities a fix round addresses; minor findings are noted in the pull request."""


class Reviewer:
    """The code reviewer's side of the loop, bound to the stage's worktree."""

    def __init__(self, wt: StageWorktree):
        self.wt = wt
        self.cfg = wt.services.config.stages.review
        self.lineage = Lineage(wt.folder)

    def review(self, state: ReviewState) -> ReviewState:
        n = state.get("review_round", 0) + 1
        # A fix round that passed its tests is left uncommitted by green.test: commit it, so the
        # reviewer reads it in the diff (nothing to commit when this node runs again on resume).
        self.wt.git.commit_all(report.wip_message(state["issue_number"], f"fix before review {n}", "tests pass"))
        # Read afresh each round (fix rounds change the files it shows), so the request is a function
        # of the worktree as it is now, and a re-run node sends the same one (and replays it).
        context = DocumentContext(REVIEW, self.wt.services)
        shown = "\n".join(m.content for m in context.stable)
        request = context.request(prompts.role(self.cfg.adversarial_tests), self.material(state, shown),
                                  "review.review", n - 1, self.cfg.reviewer)
        client = self.wt.services.models.client("review", self.cfg.reviewer, state.get("attempt", 1))
        verdict, response = client.structured(request, CodeReview)
        self.lineage.step(f"round-{n}", request, response, verdict=verdict.model_dump())
        accepted, refused = adversarial.accept(verdict.adversarial_tests, self.wt.root, self.cfg.adversarial_tests)
        entry = {"round": n, "verdict": verdict.verdict, "summary": verdict.summary,
                 "findings": [f.model_dump() for f in verdict.findings], "reviewer": self.cfg.reviewer,
                 "implementer": self.wt.cfg.implementer}
        refusals = f" ({len(refused)} refused)" if refused else ""
        self.wt.services.progress.emit(
            "step", stage="review", verdict=verdict.verdict,
            message=f"review round {n} · {verdict.verdict}, {plural(len(verdict.findings), 'finding')}, "
                    f"{plural(len(accepted), 'adversarial test')}{refusals}")
        update: ReviewState = {"review_round": n, "review": verdict.model_dump(), "history": [entry],
                               "claimed": state.get("open_findings") or [], "open_findings": [],
                               "adversarial": [*accepted, *refused],
                               "adversarial_log": [{"round": n, "path": r["path"], "status": "refused",
                                                    "reason": r["reason"], "tests": []} for r in refused]}
        if verdict.verdict == "BLOCKED":
            return {**update, "next_step": "end", "exit_reason": "blocked",
                    "message": f"the reviewer blocked the change: {verdict.summary}"}
        repeated = raised_again(verdict, update["claimed"], MUST_FIX) if verdict.verdict == "REVISE" else None
        if repeated:
            return {**update, "next_step": "end", "exit_reason": "stagnation",
                    "message": f"finding {repeated} raised again after a fix round that addressed it"}
        if accepted:
            return {**update, "next_step": "tests"}  # the tests run first; `adversarial` decides
        return {**update, **decide(state | update, [], self.cfg.max_rounds)}

    def material(self, state: ReviewState, shown: str) -> list[str]:
        """This round's changing part: the diff, the test report, the touched files (those not
        already whole in `shown`, the prefix, as they were before), the last round."""
        budget = self.cfg.context_tokens * 4  # characters
        diff = self.wt.git.run("diff", f"{state['fork_sha']}..HEAD", "--", ".", *self._excluded())
        parts = [data_block("diff against the base", _bounded(diff, budget, "diff")),
                 data_block("test report", prompts.test_report(state)),
                 data_block("files the diff touches", self._touched(state, max(budget - len(diff), 0), shown))]
        if last := prompts.last_round(state):
            parts.append(data_block("your last round", last))
        return [*parts, prompts.ASK]

    def _excluded(self) -> list[str]:
        return [f":(exclude){self.wt.services.config.docs_dir}", ":(exclude).agentos"]

    def _touched(self, state: ReviewState, budget: int, shown: str) -> str:
        paths = self.wt.git.run("diff", "--name-only", f"{state['fork_sha']}..HEAD", "--", ".",
                                *self._excluded()).split()
        blocks, used = [], 0
        for path in paths:
            file = self.wt.root / path
            if not file.is_file():
                continue
            before = self.wt.git.show_file(state["fork_sha"], path)
            if before and fenced(before) in shown:
                blocks.append(f"### {path}\n(whole in the context above as it was before the change; "
                              "the diff shows what changed)")
                continue
            text = file.read_text(encoding="utf-8", errors="replace")
            room = budget - used
            if room < 400:
                blocks.append(f"### {path}\n[not shown: over the context budget]")
                continue
            block = f"### {path}\n{_bounded(text, room, path)}"
            blocks.append(block)
            used += len(block)
        return "\n\n".join(blocks) or "(none)"


def _bounded(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {what} cut at {limit:,} characters of {len(text):,}: over the context budget]"


def decide(state: ReviewState, results: list[dict[str, Any]], max_rounds: int) -> ReviewState:
    """After a review and its tests: approve, fix, review again (a test that did not run, once),
    or end at the cap with the open findings."""
    review, n = state["review"], state["review_round"]
    failing = [r for r in results if r["status"] == "failing"]
    broken = [r for r in results if r["status"] == "broken"]
    findings = [f for f in review["findings"] if f["severity"] in MUST_FIX] if review["verdict"] == "REVISE" else []
    if review["verdict"] == "REVISE" and not findings:
        findings = [{"id": f"R{n}", "section": "", "file": "", "lines": "", "spec_item": "", "severity": "major",
                     "text": review["summary"]}]
    open_items = findings + [adversarial.as_finding(r, n, i) for i, r in enumerate(failing, 1)]
    retry_broken = bool(broken) and not state.get("broken_returned")
    if review["verdict"] == "APPROVED" and not failing and not (retry_broken and n < max_rounds):
        return {"next_step": "approve"}
    if n >= max_rounds:
        shown = "; ".join(f"{f['id']}: {f['text']}" for f in open_items[:3]) or review["summary"]
        return {"next_step": "end", "exit_reason": "max_rounds", "open_findings": open_items,
                "message": f"not approved after {plural(n, 'review round')}: {shown}"}
    if open_items:
        return {"next_step": "fix", "open_findings": open_items}
    return {"next_step": "review", "broken_returned": True}
