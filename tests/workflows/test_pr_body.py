"""The PR body: every section from the run's artifacts, the repository's template headings
followed, and untrusted text that cannot break the structure or act on GitHub."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from agentos.markdown.parse import headings
from agentos.workflows.pr.body import PRFacts, build_body, find_template

REPORT = {
    "final": {"command": "/home/ana/repo/.agentos/worktrees/3/.venv/bin/python -m pytest -q", "summary": "5 passed in 0.2s",
              "passed": 5, "failed": 0, "errors": 0},
    "baseline": {"summary": "3 passed in 0.1s"}, "fork_sha": "1710e4b75843e12dffdb",
    "red_tests": ["tests/test_x.py::test_new"],
    "rounds": [{"label": "tests first", "summary": "3 passed, 1 failed", "action": "committed"},
               {"label": "implementation", "summary": "5 passed", "action": "kept"}],
    "required": {"tests/test_x.py::test_new": "passed", "tests/test_x.py::test_edge": "passed"},
}
REVIEWS = {"spec": {"history": [{"verdict": "APPROVED", "summary": "Precise.", "reviewer": "gemini:3-pro",
                                 "findings": [{"id": "F1", "severity": "minor", "section": "Tests", "text": "Add one more."},
                                              {"id": "F2", "severity": "blocking", "text": "resolved"}]}]}}


def _facts(**over) -> PRFacts:
    base = dict(issue=3, branch="agentos/issue-3", what="Collapse dashes.", why="Slugs look broken.",
                changed=["textkit/slug.py", "tests/test_slug.py"], report=REPORT,
                docs=[("Low-level design", "docs/agentos/issue-3/lld.md", "https://github.com/a/b/blob/agentos/issue-3/docs/agentos/issue-3/lld.md"),
                      ("Implementation spec", "docs/agentos/issue-3/spec.md", None)],
                reviews=REVIEWS, models=[("spec", "`claude:opus-4.5`, `gemini:3-pro`", 2, 0.125)],
                worktree="/home/ana/repo/.agentos/worktrees/3")
    return PRFacts(**{**base, **over})


def _html(body: str) -> str:
    return MarkdownIt("commonmark").render(body)


def test_default_body_has_every_section():
    body = build_body(_facts())
    for heading in ("What changed and why", "Files changed", "How it was tested", "Design documents", "Reviews",
                    "Models and cost"):
        assert f"## {heading}" in body
    assert "- `textkit/slug.py`" in body
    assert "Command: `./.venv/bin/python -m pytest -q`" in body and "/home/ana" not in body
    assert "Result: **5 passed, 0 failed, 0 errors**" in body and "base `1710e4b75843`" in body
    assert "🔴 Written first and seen failing on the unchanged code: `tests/test_x.py::test_new`" in body
    assert "tests first: 3 passed, 1 failed → committed" in body and "🟢 Final run: 5 passed in 0.2s" in body
    assert "Tests the spec asked for: 2/2 passing" in body
    assert "[`docs/agentos/issue-3/lld.md`](https://github.com/a/b/blob/" in body
    assert "`docs/agentos/issue-3/spec.md` on `agentos/issue-3`" in body
    assert "**spec**: APPROVED by `gemini:3-pro` after 1 round: Precise." in body
    assert "unresolved minor finding F1 (Tests): Add one more." in body and "resolved" not in body.split("F1")[1]
    assert "$0.1250" in body and body.rstrip().endswith("Closes #3")


def test_without_a_test_report_the_stage_result_is_shown():
    body = build_body(_facts(report=None, test_run={"command": "make test", "passed": 2, "failed": 0, "errors": 0}))
    assert "Command: `make test`" in body and "**2 passed, 0 failed, 0 errors**" in body
    assert "No red → green record" in body


def test_untrusted_text_cannot_break_the_body_or_act_on_github():
    what = "```python\nunclosed fence\n<!-- hidden\nFixes #12, closes acme/other#4 and cc @maintainers\n<details>"
    body = build_body(_facts(what=what, changed=["weird`name*.py"]))
    html = _html(body)
    assert html.count("<h2>") == 6  # every heading survived
    assert html.rstrip().endswith("<p>Closes #3</p>")
    assert "<code>@maintainers</code>" not in html  # inside the quoted fence it is code anyway
    flat = build_body(_facts(what="Fixes #12 and closes acme/other#4, thanks @maintainers"))
    assert "`Fixes #12`" in flat and "`closes acme/other#4`" in flat and "`@maintainers`" in flat
    assert "``weird`name*.py``" in body


TEMPLATE = """<!-- Thanks for contributing! -->
## Description
<!-- What does this change and why? -->

## Type of change
- [ ] Bug fix
- [ ] New feature

```md
## not a heading (inside a fence)
```

## How has this been tested?

## Related issues
"""


def test_template_headings_are_followed(tmp_path: Path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "PULL_REQUEST_TEMPLATE.md").write_text(TEMPLATE)
    template = find_template(tmp_path)
    assert [h.title for h in headings(template)] == ["Description", "Type of change",
                                                           "How has this been tested?", "Related issues"]
    body = build_body(_facts(), template)
    html = _html(body)
    assert re.findall(r"<h2>(.*?)</h2>", html) == ["Description", "Type of change", "How has this been tested?",
                                                   "Related issues", "Files changed", "Design documents", "Reviews",
                                                   "Models and cost"]
    assert body.index("Collapse dashes.") < body.index("## Type of change") < body.index("- [ ] Bug fix")
    assert body.index("## How has this been tested?") < body.index("Result: **5 passed") < body.index("## Related issues")
    assert body.index("## Related issues") < body.index("Closes #3")
    assert "What does this change and why?" not in body  # our text replaces the prompt
    assert "## Files changed" in body and "## Models and cost" in body  # no place in the template: appended
    assert "<h2>not a heading" not in html


def test_no_template_found(tmp_path: Path):
    assert find_template(tmp_path) is None


def test_the_body_says_whether_the_code_ran_sandboxed():
    from agentos.workflows.pr.body import PRFacts, build_body

    run = {"command": "pytest -q", "passed": 3, "failed": 0, "errors": 0}
    off = build_body(PRFacts(issue=1, branch="b", test_run=run, sandbox="off"))
    on = build_body(PRFacts(issue=1, branch="b", test_run=run, sandbox="auto"))
    assert "**Not sandboxed** (`sandbox: off`)" in off
    assert "Sandbox: bubblewrap" in on and "Not sandboxed" not in on
