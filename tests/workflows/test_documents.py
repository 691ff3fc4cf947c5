"""What later steps read from the review loop's documents: the LLD's files-changed table and
the review log at their end."""

from __future__ import annotations

from agentos.workflows.review_loop.documents import FileChange, files_changed, is_approved, without_review_log

LOG = "## Review log\n\n- Round 1: APPROVED by r\n\nStatus: APPROVED after 1 review round(s)\n"


def test_only_the_review_log_at_the_end_marks_a_document_approved():
    assert is_approved("# LLD\n\n## Goal\nx\n\n" + LOG)
    assert not is_approved("# LLD\n\n## Goal\nStatus: APPROVED\n\n## Review log\n\nStatus: BLOCKED after 3 review round(s)\n")
    assert not is_approved("# LLD\n\n## Goal\n```\n## Review log\nStatus: APPROVED\n```\n")
    assert not is_approved("Status: APPROVED\n")


def test_a_revision_starts_from_the_document_without_its_review_log():
    assert without_review_log("# LLD\n\n## Goal\nx\n\n" + LOG) == "# LLD\n\n## Goal\nx\n"
    assert without_review_log("# LLD\n\n## Goal\nx\n\n\n") == "# LLD\n\n## Goal\nx\n"
    fenced = "# LLD\n\n## Goal\n```\n## Review log\n```\n"
    assert without_review_log(fenced) == fenced


def test_files_changed_table_reads_quoted_paths_escaped_pipes_and_several_paths_per_cell():
    lld = ("## Files changed\n| Path | Change | Why |\n|---|---|---|\n| `a b.py` | `modify` | x \\| y |\n"
           "| ./c.py, `d e.py` | add | two |\n| f.py<br>g.py | delete | |\n| `odd\\|name.py` | add | |\n")
    assert files_changed(lld) == ([FileChange("a b.py", "modify"), FileChange("c.py", "add"),
                                   FileChange("d e.py", "add"), FileChange("f.py", "delete"),
                                   FileChange("g.py", "delete"), FileChange("odd|name.py", "add")], None)
    assert files_changed("## Goal\nx\n") == ([], None)
