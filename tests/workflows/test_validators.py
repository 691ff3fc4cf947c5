"""The deterministic checks on real Markdown documents, including malformed ones."""

from __future__ import annotations

from agentos.markdown.parse import sections
from agentos.workflows.review_loop.documents import criteria_of
from agentos.workflows.review_loop.edits import Edit, apply_edits
from agentos.workflows.review_loop.kinds import LLD, SPEC, TRIAGE, required_sections, validate
from agentos.workflows.review_loop.validators import ValidationContext

BRIEF = """# Brief

## Problem
Slugs have dashes.

## Scope
Only slugify.

## Acceptance criteria
1. Runs collapse.
2. No edge dashes.

## Open questions
None.

## Kind
bug

## Size
S
"""

LLD_DOC = """# LLD

## Context and goal
Fix it.

## Files changed
| Path | Change | Why |
|------|--------|-----|
| `src/my module.py` | modify | the fix |
| src/new.py | add | helper |

## Data structures
None.

## Interfaces
`collapse(text) -> str` (new)

## Logic flow
```python
# Not a heading: a comment in code
x = 1
```

## Alternatives considered
None.

## Security
Fine.

## Performance
Fine.

## Test plan
| ID | Scenario | Type | Expected | Criterion |
|----|----------|------|----------|-----------|
| T1 | runs | unit | one dash | AC1 |
| T2 | edges | unit | none | AC2 |

## Risks
Low.

## Definition of done
Green.
"""

CTX = ValidationContext(base_files={"src/my module.py", "src/old.py"}, symbols={"slugify"},
                        criteria=["AC1", "AC2"])


def _tpl(kind):
    return kind.template(None, issue_title="t", issue_number=1)


def test_good_documents_pass():
    assert validate(TRIAGE, BRIEF, _tpl(TRIAGE), CTX) == []
    assert validate(LLD, LLD_DOC, _tpl(LLD), CTX) == []
    assert criteria_of(BRIEF) == ["AC1", "AC2"]


def test_required_sections_come_from_the_template():
    assert required_sections(_tpl(LLD))[:2] == ["Context and goal", "Files changed"]


def test_missing_and_empty_and_duplicated_sections():
    doc = BRIEF.replace("## Open questions\nNone.\n", "").replace("## Size\nS\n", "## Size\n") + "\n## Scope\nagain\n"
    problems = validate(TRIAGE, doc, _tpl(TRIAGE), CTX)
    assert "missing required section '## Open questions'" in problems
    assert "section '## Size' is empty" in problems
    assert any("'## Scope' appears 2 times" in p for p in problems)


def test_brief_criteria_must_be_numbered_and_kind_known():
    doc = BRIEF.replace("1. Runs collapse.\n2. No edge dashes.", "- Runs collapse").replace("bug", "epic")
    problems = validate(TRIAGE, doc, _tpl(TRIAGE), CTX)
    assert "'## Acceptance criteria' must be a numbered list (1. …)" in problems
    assert "'## Kind' must be one of: bug, feature, chore, docs" in problems


def test_files_changed_table_checked_against_the_base_commit():
    doc = LLD_DOC.replace("| `src/my module.py` | modify |", "| src/gone.py | delete |").replace(
        "| src/new.py | add |", "| src/old.py | add |")
    problems = validate(LLD, doc + "", _tpl(LLD), CTX)
    assert "files changed: 'src/gone.py' is marked delete but does not exist at the base commit" in problems
    assert "files changed: 'src/old.py' is marked add but already exists; use modify" in problems


def test_missing_table_and_bad_change_word():
    no_table = LLD_DOC.replace("| Path | Change | Why |\n|------|--------|-----|\n", "")
    assert any("needs a table" in p for p in validate(LLD, no_table, _tpl(LLD), CTX))
    renamed = LLD_DOC.replace("| src/new.py | add |", "| src/new.py | create |")
    assert any("has change 'create'" in p for p in validate(LLD, renamed, _tpl(LLD), CTX))


def test_test_plan_must_cover_every_criterion():
    doc = LLD_DOC.replace("| T2 | edges | unit | none | AC2 |\n", "")
    assert "'## Test plan' covers no test for AC2" in validate(LLD, doc, _tpl(LLD), CTX)
    no_col = LLD_DOC.replace("| Criterion |", "| Notes |")
    assert any("needs a Criterion column" in p for p in validate(LLD, no_col, _tpl(LLD), CTX))


def test_code_fence_comments_are_not_headings():
    assert not [k for k in sections(LLD_DOC) if "not a heading" in k]
    assert sections(LLD_DOC)["logic flow"].startswith("```python\n# Not a heading: a comment in code")
    assert sections(LLD_DOC)["logic flow"].endswith("```") and "alternatives considered" in sections(LLD_DOC)


def test_spec_symbols_and_changed_files_must_be_known():
    ctx = ValidationContext(base_files=CTX.base_files, symbols={"slugify"}, criteria=["AC1"], lld=LLD_DOC)
    spec = """# Spec

## Overview
Do it.

## Changes

### src/my module.py
Change the loop.

### src/unlisted.py
Sneaky.

## Function specifications
`slugify(text)` → `"a-b"`
`collapse(text)` → `"a"`
`teleport(x)` → `"?"`

## Test mapping
| Criterion | Test |
|-----------|------|
| AC1 | tests/test_x.py::test_runs |

## Dependencies
None.
"""
    problems = validate(SPEC, spec, _tpl(SPEC), ctx)
    assert any("`teleport`" in p for p in problems)
    assert not any("`slugify`" in p or "`collapse`" in p for p in problems)
    assert any("'src/unlisted.py'" in p for p in problems)
    assert not any("'src/my module.py'" in p for p in problems)


def test_spec_checks_accept_builtins_the_standard_library_and_words_after_a_path():
    ctx = ValidationContext(base_files=CTX.base_files, symbols={"slugify"}, criteria=["AC1"], lld=LLD_DOC)
    spec = ("# Spec\n\n## Overview\nDo it.\n\n## Changes\n\n### `src/my module.py` (modify)\nLoop.\n\n"
            "### src/my module.py — keep the signature\nSame.\n\n### `src/unlisted.py` (add)\nNo.\n\n"
            "## Function specifications\n`len(text)`, `str(x)`, `re(…)`, `slugify(text)`; `teleport(x)`\n\n"
            "## Test mapping\n| Criterion | Test |\n|-----------|------|\n| AC1 | tests/test_x.py::test_runs |\n\n"
            "## Dependencies\nNone.\n")
    problems = validate(SPEC, spec, _tpl(SPEC), ctx)
    assert [p for p in problems if "names `" in p] == [
        "'## Function specifications' names `teleport`, which is neither in the repository nor declared in the LLD"]
    assert [p for p in problems if "edits '" in p] == [
        "'## Changes' edits 'src/unlisted.py', which the LLD's files changed table does not list"]


def test_apply_edits_all_or_nothing():
    doc = "## A\none\n\n## B\ntwo two\n"
    assert apply_edits(doc, [Edit(search="one", replace="1")], ["A", "B"]) == ("## A\n1\n\n## B\ntwo two\n", [])
    text, problems = apply_edits(doc, [Edit(search="one", replace="1"), Edit(search="two", replace="2")], ["A"])
    assert text == doc and "occurs 2 times" in problems[0]
    text, problems = apply_edits(doc, [Edit(search="## B\n", replace="")], ["A", "B"])
    assert text == doc and "remove the required section '## B'" in problems[0]
