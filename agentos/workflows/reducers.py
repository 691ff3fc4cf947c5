"""How graph state merges what a node returns: nodes return only what changed.

Used as `Annotated[type, reducer]` in the workflow states. LangGraph calls a reducer with the
value so far and a node's update, and keeps what it returns.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def append(old: list[T], new: list[T]) -> list[T]:
    """Lists grow: an update's items go after the ones already there."""
    return [*old, *new]


def merge(old: dict[str, T], new: dict[str, T | None]) -> dict[str, T]:
    """Maps update by key: a key's new value replaces its old one, and None removes the key."""
    merged = dict(old)
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def append_per_key(old: dict[str, list[Any]], new: dict[str, list[Any] | None]) -> dict[str, list[Any]]:
    """Maps of lists: an update's items go after that key's items; None removes the key."""
    merged = dict(old)
    for key, items in new.items():
        if items is None:
            merged.pop(key, None)
        else:
            merged[key] = [*merged.get(key, []), *items]
    return merged
