"""Where `agentos demo` puts its sample repository when no --dir is given."""

from __future__ import annotations

import shutil
from pathlib import Path

from agentos.demo import default_dir

from tests.helpers.repos import git


def test_inside_a_checkout_the_demo_goes_to_a_temp_folder_not_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git(checkout, "init", "-q")
    where = default_dir(checkout)
    shutil.rmtree(where)
    assert not where.resolve().is_relative_to(checkout.resolve()) and where.name.startswith("agentos-demo-")
    assert git(checkout, "status", "--porcelain") == ""


def test_outside_a_checkout_the_demo_goes_to_agentos_demo_here(tmp_path: Path) -> None:
    assert default_dir(tmp_path) == tmp_path.resolve() / "agentos-demo"


def test_the_next_command_works_from_the_users_shell(monkeypatch) -> None:
    import sys

    from agentos.demo import agentos_command

    beside = Path(sys.executable).parent / "agentos"  # the test venv installs the entry point
    monkeypatch.setenv("PATH", "/nonexistent")
    assert agentos_command() == str(beside) and beside.exists()
    monkeypatch.setenv("PATH", str(beside.parent))
    assert agentos_command() == "agentos"
