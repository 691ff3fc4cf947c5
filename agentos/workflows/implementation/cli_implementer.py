"""An agent CLI as the implementer: one run of the CLI per round, then its work is checked.

The CLI gets the round's task (the documents, the test command and what to do now) and the
files it should start from. Afterwards anything it did to git's own files is undone, it must
have stayed on the work branch, its scratch files are removed, and changes the path rules
refuse are put back. How the CLI is started and watched is in external.py.
"""

from __future__ import annotations

from agentos.workflows.implementation import external, prompts
from agentos.workflows.implementation.red import write_guard
from agentos.workflows.implementation.state import ImplState
from agentos.workflows.implementation.tools import is_test_path
from agentos.workflows.implementation.worktree import StageWorktree


def external_round(wt: StageWorktree, state: ImplState) -> ImplState:
    git, implementer = wt.git, wt.cfg.implementer
    start = git.head()
    label = f"{state['phase']}-{state.get('red_round' if state['phase'] == 'red' else 'fix_round', 0)}"
    admin = external.GitAdminGuard(git)
    run = external.run_agent(implementer, _task(wt, state), wt.root, wt.cfg.external_timeout_s, wt.folder,
                             label, _files(state), wt.services.sandbox)
    notes = [f"{implementer} {label}: " + ("timed out" if run.timed_out else f"exit {run.exit_code}")
             + f" after {run.duration_s:.0f}s (its own account is in impl/{label}-output.log)"]
    notes += [f"undid a change the agent made to git's own files: {p}" for p in admin.restore()]
    if git.current_branch() != wt.workspace.branch:
        return {"outcome": "BLOCK", "exit_reason": "agent_left_branch",
                "message": f"{implementer} left the worktree off {wt.workspace.branch}; check {wt.root} by hand"}
    notes += [f"removed the agent's own state file {p}" for p in external.remove_scratch(wt.root, git)]
    refused = _undo_refused(wt, start, state)
    notes += [f"undid {reason}" for reason in refused.values()]
    for note in notes:
        wt.note(note)
    wt.append("agent-runs.jsonl", {"label": label, "command": run.command, "exit_code": run.exit_code,
                                   "timed_out": run.timed_out, "duration_s": run.duration_s,
                                   "changed": git.changed_since(start), "refused": refused})
    return {"notes": notes, "refused": state.get("refused", 0) + len(refused)}


def _undo_refused(wt: StageWorktree, start: str, state: ImplState) -> dict[str, str]:
    """Put back what the CLI changed against the path rules: changed path → why."""
    refused = external.refused_changes(wt.root, wt.git.changed_since(start), state.get("allowed_paths", []),
                                       write_guard(state))
    external.put_back(wt.git, wt.root, start, list(refused))
    return refused


def _task(wt: StageWorktree, state: ImplState) -> str:
    spec, lld = wt.documents(state["issue_number"])
    required = state.get("required_tests", [])
    if state.get("feedback"):
        instructions = state["feedback"]
    elif state["phase"] == "red":
        instructions = prompts.red_task(required)
    else:
        instructions = prompts.green_task(required) + prompts.with_feedback(state.get("human_feedback") or [])
    command = wt.test_command(wt.template(state))
    return prompts.cli_task(prompts.documents(spec, lld), command, instructions)


def _files(state: ImplState) -> list[str]:
    """Files to hand the CLI up front (aider edits only files it was given)."""
    named = [t.split("::", 1)[0] for t in state.get("required_tests", []) if "::" in t]
    files = [*named, *state.get("allowed_paths", [])]
    if state["phase"] == "red":
        files = [f for f in files if is_test_path(f) or f in named]
    return list(dict.fromkeys(files))
