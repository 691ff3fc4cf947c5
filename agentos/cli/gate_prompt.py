"""The gate at the terminal: show what is to be approved, let the user read it whole, and take an
explicit answer (approve, reject with feedback, or quit to pause; Ctrl-D pauses too)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from agentos import readmodel
from agentos.commands.text import fit
from agentos.progress.view import plural
from agentos.errors import AgentosError
from agentos.paths import RepoLayout, find_repo_root
from agentos.runs import local_user

ANSWERS = {"a": "approve", "approve": "approve", "r": "reject", "reject": "reject", "q": "quit", "quit": "quit",
           "v": "view", "view": "view", "d": "diff", "diff": "diff", "t": "tests", "tests": "tests"}
DIFF_STAT_LINES = 12


def gate_asker(repo: Path | None) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """The `ask` a run gets at a terminal: the payload of the gate → the decision, or None to pause."""
    def ask(payload: dict[str, Any]) -> dict[str, Any] | None:
        layout = RepoLayout(find_repo_root(repo))
        return GatePrompt(layout, payload).run()

    return ask


class GatePrompt:
    """One gate's conversation on stderr (stdout stays the command's result)."""

    def __init__(self, layout: RepoLayout, payload: dict[str, Any], out=None, read: Callable[[str], str] | None = None):
        self.layout, self.payload = layout, payload
        self.out = out or sys.stderr
        self.read = read or self.read_line
        self.issue = int(payload.get("issue") or 0)
        self.stage = str(payload.get("stage") or "")
        self.code_gate = self.stage in ("impl", "review")

    def run(self) -> dict[str, Any] | None:
        room = shutil.get_terminal_size((80, 24)).columns
        self.say("\n" + "\n".join(fit(line, room) for line in self.summary()))
        looks = ("diff", "tests") if self.code_gate else ("view",)
        choices = "[d]iff, [t]est report, " if self.code_gate else "[v]iew it, "
        while True:
            answer = self.ask(f"{choices}[a]pprove, [r]eject with feedback, [q]uit (pause): ", looks)
            if answer is None or answer == "quit":
                return self.pause()
            if answer in looks:
                self.view(answer)
            elif answer == "approve":
                return {"action": "approve", "feedback": None, "by": local_user(self.layout.root)}
            elif answer == "reject":
                return self.reject()

    def ask(self, prompt: str, looks: tuple[str, ...]) -> str | None:
        """The user's choice; None on end of input (Ctrl-D). Asks again for anything else,
        a bare Enter included: nothing is approved by default."""
        valid = {"approve", "reject", "quit", *looks}
        while True:
            try:
                line = self.read(prompt).strip().lower()
            except EOFError:
                self.say("")
                return None
            if ANSWERS.get(line) in valid:
                return ANSWERS[line]
            said = f"{line!r} is not an answer" if line else "nothing is chosen for you"
            self.say(f"  {said}: type approve (a), reject (r), {', '.join(f'{w} ({w[0]})' for w in looks)} or quit (q)")

    def read_line(self, prompt: str) -> str:
        """A line from stdin, the prompt on stderr; EOFError at end of input (Ctrl-D)."""
        self.out.write(prompt)
        self.out.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    def reject(self) -> dict[str, Any] | None:
        while True:
            try:
                feedback = self.read("What should change? (goes to the stage's next revision; Ctrl-D pauses) ").strip()
            except EOFError:
                self.say("")
                return self.pause()
            if feedback:
                return {"action": "reject", "feedback": feedback, "by": local_user(self.layout.root)}
            self.say("  a rejection needs feedback: the stage revises its result with it (or press Ctrl-D to pause)")

    def pause(self) -> None:
        self.say("paused; nothing was decided")
        return None

    def summary(self) -> list[str]:
        """What is to be approved: the document and its review, or the PR to be opened."""
        detail = readmodel.run_detail(self.layout, self.issue)
        gate = readmodel.gate_label(self.payload.get("gate"))
        if self.code_gate:
            ask = "approve the reviewed code?" if self.stage == "review" else "open this pull request?"
            return [f"Gate {gate}: {ask}", *self.pr_lines(detail), *self.review_lines(detail),
                    f"  cost so far  ${detail.summary.cost_usd:.4f}"]
        doc = next((d for d in detail.documents if d.kind == self.stage), None)
        lines = [f"Gate {gate}: approve the {doc.label if doc else readmodel.stage_label(self.stage)}?"]
        if doc:
            lines.append(f"  document     {doc.location}")
            lines.append(f"  review       {doc.review.removeprefix('Status: ') or 'no review log'}")
            lines += [f"               {entry}" for entry in doc.review_log[-3:]]
        return lines + [f"  cost so far  ${detail.summary.cost_usd:.4f}"]

    def pr_lines(self, detail: readmodel.RunDetail) -> list[str]:
        from agentos.workflows.pr.graph import pr_title

        lines = [f"  title        {pr_title(detail.summary.title, self.issue)}",
                 f"  branch       {detail.branch} → {detail.base}"]
        try:
            width = shutil.get_terminal_size((80, 24)).columns - 4  # shown indented by 4
            stat = readmodel.branch_diff(readmodel.where(self.layout, self.issue), stat=True, width=width).splitlines()
        except AgentosError as exc:
            stat = [f"(no diff: {exc})"]
        shown = stat if len(stat) <= DIFF_STAT_LINES else [*stat[:DIFF_STAT_LINES - 1], "...", stat[-1]]
        lines += ["  changes" + (f"      {shown[-1].strip()}" if shown else "      none")]
        lines += [f"    {line.strip()}" for line in shown[:-1]]
        tests = detail.tests
        if tests:
            lines += [f"  tests        {tests.base or '?'} (at the base)", f"             → {tests.final or '?'}"]
            if tests.red_tests and tests.passed:
                lines.append(f"               {plural(len(tests.red_tests), 'new test')} seen red, then green")
        return lines

    @staticmethod
    def review_lines(detail: readmodel.RunDetail) -> list[str]:
        """The code review's verdict, the reviewer's tests kept, and what it left open."""
        c = detail.code_review
        if c is None:
            return []
        lines = [f"  code review  {c.headline()}"]
        if c.kept_tests:
            lines.append(f"               kept {plural(len(c.kept_tests), 'adversarial test')}: {', '.join(c.kept_tests)}")
        lines += [f"               open: {f}" for f in c.unresolved[:3]]
        return lines + [f"               {c.report}"]

    def view(self, what: str) -> None:
        """The whole document, diff or test report, through the pager."""
        from agentos.commands.show import show
        from agentos.process import page

        kind = what if self.code_gate else {"triage": "brief"}.get(self.stage, self.stage)
        try:
            page(show(self.layout.root, self.issue, kind))
        except AgentosError as exc:
            self.say(f"  cannot show it: {exc}")

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)
