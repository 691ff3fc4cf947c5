"""The Markdown helper: structure read as GitHub renders it, untrusted text kept inert."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from agentos.markdown.escape import cell, code, fenced, inline, quote
from agentos.markdown.parse import (Heading, cells, code_spans, column, headings, in_code, sections, table, tables,
                                    unquoted, unwrap_document)

DOC = """# Title

## Goal
Why.

### Detail
More.

  ~~~md
## fenced (tilde, indented)
  ~~~

## Files changed ##
| Path | Change |
|------|--------|
| `a b.py` | add |

````
```
# still code: a shorter fence does not close a longer one
````
## C#
"""


def test_headings_have_levels_and_skip_fenced_code():
    assert headings(DOC) == [Heading(0, 1, "Title"), Heading(2, 2, "Goal"), Heading(5, 3, "Detail"),
                             Heading(12, 2, "Files changed"), Heading(21, 2, "C#")]
    assert [h.title for h in headings(DOC, level=2)] == ["Goal", "Files changed", "C#"]
    assert headings("#not\n   ### three spaces\n    #### code\n##\n") == [Heading(1, 3, "three spaces")]


def test_headings_agree_with_a_commonmark_renderer():
    rendered = re.findall(r"<h(\d)>(.*?)</h\1>", MarkdownIt("commonmark").render(DOC))
    assert [(int(level), title) for level, title in rendered] == [(h.level, h.title) for h in headings(DOC)]


def test_sections_hold_their_subsections_and_end_at_the_next_equal_heading():
    found = sections(DOC)
    assert found["goal"].startswith("Why.\n\n### Detail\nMore.") and "## fenced" in found["goal"]
    assert found["detail"].endswith("~~~")
    assert found["files changed"].startswith("| Path |") and found["files changed"].endswith("````")
    assert "title" not in found and found["c#"] == ""
    assert sections("## A\none\n## a\ntwo\n") == {"a": "one"}  # the first of two equal titles wins


@pytest.mark.parametrize("fences, code", [
    ("```\nx\n```\ny", [True, True, True, False]),
    ("```py\n``` not a close\n```", [True, True, True]),
    ("~~~\n```\n~~~\ny", [True, True, True, False]),
    ("```a```\ny", [False, False]),  # backticks in the info string: not a fence
    ("    ```\ny", [False, False]),  # four spaces: not a fence
    ("```\nunclosed\n", [True, True, True]),
])
def test_fences(fences, code):
    assert in_code(fences.split("\n")) == code


def test_tables_split_on_unescaped_pipes_and_skip_code():
    text = ("| Path | Why |\n|:---|---:|\n| `a b.py` | x \\| y |\n\n"
            "```\n| Not | A |\n|---|---|\n```\n"
            "| Test |\n| --- |\n| t::a |\n")
    assert tables(text) == [[{"path": "`a b.py`", "why": "x | y"}], [{"test": "t::a"}]]
    assert table(text) == [{"path": "`a b.py`", "why": "x | y"}]
    assert table("| a | b |\n| c | d |\n") is None  # no delimiter row, no table
    assert cells("| `x` | a \\| b | |") == ["`x`", "a | b", ""]
    assert column([{"path": "", "change kind": ""}], "change") == "change kind" and column([], "x") is None


def test_code_spans_and_unquoted_cells():
    assert code_spans("`a` and ``b ` c`` and ` d `") == ["a", "b ` c", "d"]
    assert unquoted("`modify`") == "modify" and unquoted("`a` b") == "`a` b" and unquoted(" add ") == "add"


def test_escape_keeps_untrusted_text_inert():
    assert inline("Fixes #1 *now* @bob") == "`Fixes #1` \\*now\\* `@bob`"
    assert code("a `b` c") == "``a `b` c``"
    assert quote("Fixes #1\n```\nFixes #2\n```\n~~~\ncloses #3") == (
        "> `Fixes #1`\n> ```\n> Fixes #2\n> ```\n> ~~~\n> closes #3")
    assert quote("```a```\nFixes #4") == "> ```a```\n> `Fixes #4`"  # not a fence, so not code



def test_a_fenced_block_cannot_be_closed_by_the_text_it_holds():
    text = "before\n```\nnot the end\n````python\nstill inside\n"
    block = fenced(text)
    fence = block.splitlines()[0]
    assert fence == "`````" and block.endswith("\n" + fence)
    assert [h.title for h in headings(f"{block}\n## After\n")] == ["After"]
    assert sections(f"## Code\n{fenced('## not a heading')}\n")["code"].count("not a heading") == 1


def test_a_table_cell_holds_pipes_and_backticks():
    rows = table(f"| test | status |\n|---|---|\n| {cell('t.py::test_a[x|y]')} | failed |\n"
                 f"| {cell('`odd`')} | passed |\n")
    assert [r["test"] for r in rows] == ["`t.py::test_a[x|y]`", "`` `odd` ``"]
    assert [r["status"] for r in rows] == ["failed", "passed"]


def test_a_document_wrapped_whole_in_a_fence_is_unwrapped():
    doc = "# Brief\n\n## Problem\nIt breaks.\n\n```python\nx = 1\n```\n"
    assert unwrap_document(f"Here is the brief.\n\n```markdown\n{doc}```\n") == doc
    assert unwrap_document(f"````md\n{doc}````") == doc
    assert unwrap_document(f"```\n{doc}```\nAnything else?") == doc


def test_text_that_is_not_a_wrapped_document_is_left_alone():
    code_only = "## Design\n\n```python\n# not a heading\n```\n"
    assert unwrap_document(code_only) == code_only  # headings outside the fence: a real document
    snippet = "Use this:\n\n```python\n## a comment\nx = 1\n```\n"
    assert unwrap_document(snippet) == snippet  # not Markdown
    unclosed = "```markdown\n## Problem\n"
    assert unwrap_document(unclosed) == unclosed
