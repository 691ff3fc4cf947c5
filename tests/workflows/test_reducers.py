"""The reducers that merge what a node returns into a workflow's state."""

from __future__ import annotations

from agentos.workflows.reducers import append, append_per_key, merge


def test_append_puts_the_update_after_what_is_there():
    old = [1, 2]
    assert append(old, [3]) == [1, 2, 3] and old == [1, 2]


def test_merge_replaces_by_key_and_none_removes_the_key():
    old = {"triage": 1, "lld": 2}
    assert merge(old, {"lld": 3, "spec": 1}) == {"triage": 1, "lld": 3, "spec": 1}
    assert merge(old, {"triage": None, "pr": None}) == {"lld": 2}
    assert old == {"triage": 1, "lld": 2}


def test_append_per_key_extends_that_key_and_none_removes_it():
    old = {"triage": ["a"], "lld": ["b"]}
    assert append_per_key(old, {"triage": ["c"], "spec": ["d"]}) == {"triage": ["a", "c"], "lld": ["b"], "spec": ["d"]}
    assert append_per_key(old, {"lld": None}) == {"triage": ["a"]}
    assert old == {"triage": ["a"], "lld": ["b"]}
