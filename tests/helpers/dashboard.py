"""Repositories with a run for the dashboard to show: the demo's sample, paused at its gates."""

from __future__ import annotations

import io
from pathlib import Path

from agentos.demo import create_sample
from tests.helpers.sample import edit_config, edit_script, script_replies

HOSTILE_TITLE = 'slugify <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> dashes'
HOSTILE_LLD = ('<script>window.__pwned=3</script> <img src=x onerror="window.__pwned=4"> '
               '[a link](javascript:window.__pwned=5)\n')


def paused_sample(root: Path, hostile: bool = False, **orchestrator) -> Path:
    """The demo's sample repository whose run of issue #1 is paused at gate after_lld (before_pr
    is gated too); with `hostile`, the issue title and the LLD carry HTML that would run script."""
    repo = create_sample(root)
    edit_config(repo, gates={"after_lld": True, "before_pr": True}, **orchestrator)
    if hostile:
        issue = repo / ".agentos" / "issues" / "1.md"
        issue.write_text(issue.read_text().replace("title: slugify leaves repeated and trailing dashes",
                                                   f"title: '{HOSTILE_TITLE}'"))
        replies = script_replies(repo, "drafter", "lld.draft")
        replies[0]["text"] = replies[0]["text"].replace("and no dash at either end.\n",
                                                        "and no dash at either end.\n" + HOSTILE_LLD, 1)
        edit_script(repo, "drafter", "lld.draft", replies)
    assert run(repo) == 3
    return repo


def run(repo: Path) -> int:
    """`orchestrate --issue 1` on the repository, in this process; its exit code."""
    from agentos.workflows.orchestrator.run import orchestrate
    from agentos.workflows.orchestrator.session import RunOptions

    return orchestrate(RunOptions(issue=1, repo=repo, plain=True), stream=io.StringIO()).exit_code
