"""The corpus data is complete and consistent, and fetch.py turns each entry into a git repository
with the published source and the planted bug. Downloads once into the corpus cache; offline after.

The end-to-end check of each project's own suite (set-up, base run, bug, fix) is verify.py:
    python -m tests.corpus.verify
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import fetch

pytestmark = pytest.mark.corpus

PROJECTS = fetch.load_projects()
REQUIRED_COVERAGE = ["src layout", "flat layout", "setuptools", "hatchling", "flit", "poetry-core",
                     "pdm-backend", "pytest conftest plugins", "unittest-only suite",
                     "tox-declared test deps", "third-party test deps", "old pytest pinned",
                     "PEP 735 dependency groups", "npm"]
KEYS = ["name", "version", "source", "archive", "sha256", "backend", "layout", "runner", "dev_command",
        "test_deps", "setup", "test_command", "one_test", "covers", "bug", "issue", "fix", "new_test",
        "kept_behaviour", "known_failing", "notes"]


def test_corpus_covers_every_required_kind() -> None:
    covered = {kind for p in PROJECTS for kind in p.data["covers"]}
    assert [k for k in REQUIRED_COVERAGE if k not in covered] == []
    assert sum(p.source == "pypi" for p in PROJECTS) >= 12
    assert sum(p.source == "npm" for p in PROJECTS) >= 2
    assert any(k.startswith("pytest config in ") for k in covered)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_entry_is_complete(project: fetch.Project) -> None:
    assert [k for k in KEYS if k not in project.data] == []
    assert project.sha256 and len(project.sha256) == 64
    assert project.fix == project.bug.inverse() or project.fix.file == project.bug.file
    assert project.data["bug"]["fails"], "the bug must make at least one existing test fail"
    assert project.data["issue"]["title"] and project.data["issue"]["body"]
    assert project.bug.replace.strip() not in project.data["issue"]["body"], "the issue names the bug"
    assert project.data["new_test"]["id"] and project.data["new_test"]["code"]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_prepare_gives_published_source_then_planted_bug(project: fetch.Project,
                                                          tmp_path: Path) -> None:
    repo = fetch.prepare(project, tmp_path / project.name, with_bug=True)
    log = fetch.git(repo, "log", "--format=%s").splitlines()
    assert log == [f"{project.name}: planted bug", "published source"]
    assert fetch.git(repo, "status", "--porcelain") == ""
    buggy = (repo / project.bug.file).read_text(encoding="utf-8")
    assert project.bug.replace in buggy
    fetch.apply_edit(repo, project.fix)
    published = fetch.git(repo, "show", f"HEAD~1:{project.bug.file}")
    assert (repo / project.bug.file).read_text(encoding="utf-8") == published


def test_download_refuses_an_archive_with_another_checksum(tmp_path: Path) -> None:
    project = PROJECTS[0]
    archive = fetch.download(project)
    cache = tmp_path / "cache"
    copy = cache / project.source / f"{project.name}-{project.version}" / archive.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(archive.read_bytes() + b"tampered")
    with pytest.raises(fetch.CorpusError, match="sha256"):
        fetch.download(project, cache)
