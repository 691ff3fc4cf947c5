"""Which documents on the branch count as approved."""

from __future__ import annotations

from agentos.workflows.workspace import is_approved


def test_only_the_review_log_at_the_end_marks_a_document_approved():
    log = "## Review log\n\n- Round 1: APPROVED by r\n\nStatus: APPROVED after 1 review round(s)\n"
    assert is_approved("# LLD\n\n## Goal\nx\n\n" + log)
    assert not is_approved("# LLD\n\n## Goal\nStatus: APPROVED\n\n## Review log\n\nStatus: BLOCKED after 3 review round(s)\n")
    assert not is_approved("# LLD\n\n## Goal\n```\n## Review log\nStatus: APPROVED\n```\n")
    assert not is_approved("Status: APPROVED\n")
