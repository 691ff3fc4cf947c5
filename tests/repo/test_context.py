"""The repository map on a repository with Python, JavaScript, TypeScript and Go files."""

from __future__ import annotations

import pytest

from agentos.repo import context
from agentos.repo.context import RepoIndex, repo_context, terms_of

from tests.helpers.repos import git, make_repo

FILES = {
    "src/slug.py": "import re\n\ndef slugify(text, sep='-'):\n    return text\n\nclass Slugger:\n    def run(self):\n        pass\n",
    "web/app.ts": "export function renderPage(title: string) { return title }\nexport class Widget { draw() {} }\nexport const helper = () => 1;\n",
    "web/legacy.js": "function legacy() {}\nconst arrow = (x) => x;\n",
    "cmd/main.go": "package main\n\ntype Server struct{}\n\nfunc (s *Server) Serve() {}\n\nfunc main() {}\n",
    "docs/readme.md": "Nothing about slugs here.\n",
    "logo.png": "\x89PNG",
}


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path, FILES)


def test_symbols_per_language(repo):
    index = RepoIndex.build(repo)
    symbols = {e.path: e.symbols for e in index.entries}
    assert symbols["src/slug.py"] == ["def slugify(text, sep)", "class Slugger: run"]
    assert symbols["web/app.ts"] == ["function renderPage", "class Widget: draw", "const helper"]
    assert symbols["web/legacy.js"] == ["function legacy", "const arrow"]
    assert symbols["cmd/main.go"] == ["type Server", "func Serve", "func main"]
    assert "logo.png" not in symbols
    assert {"slugify", "Slugger", "run", "Widget", "Serve", "Server"} <= index.symbol_names()


def test_relevance_ranks_the_file_the_issue_is_about(repo):
    ranked = RepoIndex.build(repo).rank("slugify produces repeated separators")
    assert ranked[0].path == "src/slug.py"


def test_context_fits_the_budget_and_leads_with_the_map(repo):
    text = repo_context(RepoIndex.build(repo), repo, "slugify", budget_tokens=1000)
    assert text.startswith("Repository map (5 files")
    assert "### src/slug.py" in text and len(text) <= 1000 * 4 + 200


def test_warm_build_reuses_the_cache_by_blob(repo, monkeypatch):
    cache = repo / ".cache"
    RepoIndex.build(repo, cache)
    monkeypatch.setattr(context, "_analyse", lambda *a: pytest.fail("parsed again on a warm cache"))
    assert len(RepoIndex.build(repo, cache).entries) == 5
    (repo / "src" / "slug.py").write_text("def other():\n    pass\n")
    git(repo, "add", "-A")
    monkeypatch.undo()
    rebuilt = {e.path: e.symbols for e in RepoIndex.build(repo, cache).entries}
    assert rebuilt["src/slug.py"] == ["def other()"]


def test_terms_split_identifiers():
    assert terms_of("renderPage slug_ify HTTPServer") == ["render", "page", "slug", "ify", "http", "server"]
