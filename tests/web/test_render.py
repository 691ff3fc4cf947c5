"""Rendering untrusted text: Markdown without raw HTML or script links, diffs escaped and highlighted."""

from __future__ import annotations

from agentos.web.render import diff_files, markdown, pr_link


def test_markdown_shows_raw_html_as_text_and_makes_no_script_links():
    html = str(markdown("# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
                        "[ok](https://example.org) [bad](javascript:alert(1)) [data](data:text/html,x)\n\n"
                        "| a | b |\n|---|---|\n| 1 | 2 |\n"))
    assert "<h1>Title</h1>" in html and "<table>" in html
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert '<a href="https://example.org">ok</a>' in html
    assert 'href="javascript:' not in html and 'href="data:' not in html


def test_a_diff_is_split_per_file_escaped_and_counted():
    diff = ("diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n"
            " def f():\n-    return '<b>'\n+    return '<script>'\n"
            "diff --git a/new.md b/new.md\nnew file mode 100644\n--- /dev/null\n+++ b/new.md\n@@ -0,0 +1 @@\n+# hi\n")
    files = diff_files(diff)
    assert [(f.path, f.added, f.removed) for f in files] == [("x.py", 1, 1), ("new.md", 1, 0)]
    html = "".join(str(h) for _, h in files[0].lines)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'class="pg-' in html  # Python highlighted
    assert [k for k, _ in files[0].lines][-3:] == ["ctx", "del", "add"]


def test_a_pull_request_address_is_a_link_only_when_a_browser_can_follow_it():
    context = {}
    assert str(pr_link(context, "https://github.com/o/r/pull/2")).startswith('<a href="https://github.com/o/r/pull/2"')
    assert str(pr_link(context, "file:///tmp/x/.agentos/pulls/2.md")) == "file:///tmp/x/.agentos/pulls/2.md"
    assert "<a" not in str(pr_link(context, 'javascript:alert(1)"><script>'))


def test_an_empty_diff_has_no_files_and_a_last_newline_makes_no_row():
    assert diff_files("") == [] and diff_files("\n") == []
    (only,) = diff_files("--- previous\n+++ revised\n@@ -1 +1 @@\n-a\n+b\n")
    assert only.path == "revised" and [k for k, _ in only.lines] == ["meta", "meta", "hunk", "del", "add"]
