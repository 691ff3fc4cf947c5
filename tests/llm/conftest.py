"""Shared by the provider tests: a retry policy that records its waits instead of sleeping."""

from __future__ import annotations

import pytest

from tests.helpers.llm import Waits


@pytest.fixture
def waits() -> Waits:
    return Waits()
