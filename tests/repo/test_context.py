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


# -- what the issue names --------------------------------------------------------------------

TEXT_PY = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(400)) + (
    "def slugify(value):\n    return value.strip('-')\n\n\nclass Truncator:\n    def chars(self, num):\n        return num\n")
NOISE = "keeps leading trailing dashes separators " * 30


def big_files() -> dict[str, str]:
    """A repository where BM25 over words ranks the file defining `slugify` far down, as on Django."""
    files = {"pkg/utils/text.py": TEXT_PY,
             "pkg/db/query.py": "class QuerySet:\n    def bulk_create(self, objs):\n        return objs\n",
             "pkg/db/__init__.py": "from pkg.db.query import QuerySet\n",
             "pkg/forms/fields.py": "class DecimalField:\n    def clean(self, value):\n        return value\n",
             "pkg/core/paginator.py": "class Paginator:\n    def get_page(self, number):\n        return number\n",
             "pkg/core/mail.py": "def send_mail(to):\n    return to\n",
             "pkg/core/shell.py": "class Shell:\n    def leading(self):\n        pass\n"}
    files |= {f"pkg/handlers/h{i}.py": f"class Handler{i}:\n    def run(self):\n        pass\n\n    def get(self):\n        pass\n"
              for i in range(12)}
    files |= {f"docs/notes{i}.md": NOISE for i in range(10)}
    files |= {f"lib/m{i}.py": f"def compute_{i}(a):\n    '''Multiply by {i} for reports.'''\n    return a * {i}\n" for i in range(60)}
    return files


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("big"), big_files())
    return root, RepoIndex.build(root)


def sent(index: RepoIndex, query: str) -> list[str]:
    return [entry.path for entry, _ in index.relevant(query)]


def test_bm25_alone_misses_the_defining_file(big):
    _, index = big
    assert "pkg/utils/text.py" not in [e.path for e in index.rank("slugify keeps leading and trailing dashes", 8)]


@pytest.mark.parametrize("query", [
    "slugify keeps leading and trailing dashes",
    "`slugify('--a--')` keeps leading and trailing dashes",
    "Keeps leading dashes:\n\n```python\nfrom pkg.utils.text import slugify\nprint(slugify('--a--'))\n```\n",
    "Keeps dashes:\n\n    Traceback (most recent call last):\n"
    '      File "/srv/venv/lib/python3.12/site-packages/pkg/utils/text.py", line 12, in slugify\n'
    "    ValueError: trailing dashes\n",
    "pkg.utils.text.slugify keeps leading and trailing dashes",
    "The bug is in pkg/utils/text.py: it keeps leading and trailing dashes",
], ids=["prose", "code-span", "fenced", "traceback", "dotted", "named-path"])
def test_the_file_defining_what_the_issue_names_comes_first(big, query):
    _, index = big
    assert sent(index, query)[0] == "pkg/utils/text.py"


@pytest.mark.parametrize("query, path", [
    ("`QuerySet.bulk_create` keeps dashes", "pkg/db/query.py"),
    ("pkg.db.QuerySet.bulk_create keeps dashes", "pkg/db/query.py"),  # re-exported by the package
    ("`forms.DecimalField.clean` keeps dashes", "pkg/forms/fields.py"),
    ("`Paginator.get_page()` keeps dashes", "pkg/core/paginator.py"),
])
def test_methods_and_module_paths(big, query, path):
    _, index = big
    assert sent(index, query)[0] == path


def test_the_innermost_traceback_frame_leads(big):
    _, index = big
    trace = ('File "/venv/site-packages/pkg/core/mail.py", line 3, in send_mail\n'
             'File "/venv/site-packages/pkg/utils/text.py", line 1602, in slugify\n')
    assert sent(index, trace)[:2] == ["pkg/utils/text.py", "pkg/core/mail.py"]


def test_a_common_name_does_not_flood_the_files_sent(big):
    _, index = big
    query = "`run()` and `get()` keep leading and trailing dashes"
    assert not any(path.startswith("pkg/handlers/") for path in sent(index, query))
    assert sent(index, query) == [e.path for e in index.rank(query, 8)]


def test_names_claim_at_most_four_of_the_eight_files(big):
    _, index = big
    query = "`slugify`, `send_mail`, `Paginator`, `DecimalField`, `QuerySet`, `compute_7` keep dashes"
    files = sent(index, query)
    assert len(files) == 8 and len(set(files[:4]) & {"pkg/utils/text.py", "pkg/core/mail.py", "pkg/core/paginator.py",
                                                     "pkg/forms/fields.py", "pkg/db/query.py", "lib/m7.py"}) == 4
    assert files[4:] == [e.path for e in index.rank(query, 12) if e.path not in files[:4]][:4]


def test_a_defining_file_longer_than_its_room_still_shows_the_definition(big):
    root, index = big
    text = repo_context(index, root, "slugify keeps dashes", budget_tokens=8000)
    block = text.split("### pkg/utils/text.py\n", 1)[1]
    assert "def slugify(value):\n    return value.strip('-')" in block and "… (cut)" in block


def test_the_same_inputs_give_the_same_prompt(big, tmp_path):
    root, index = big
    query = "`slugify` and `get()` keep dashes in pkg/core/mail.py"
    again = RepoIndex.build(root, tmp_path / "cache")
    assert repo_context(index, root, query, 24000) == repo_context(again, root, query, 24000)
    assert repo_context(RepoIndex.build(root, tmp_path / "cache"), root, query, 24000) == repo_context(index, root, query, 24000)


@pytest.mark.parametrize("query, path", [("`renderPage` shows no title", "web/app.ts"),
                                         ("Server.Serve hangs", "cmd/main.go"),
                                         ("`Widget.draw()` draws twice", "web/app.ts")])
def test_names_from_javascript_typescript_and_go(repo, query, path):
    assert RepoIndex.build(repo).relevant(query)[0][0].path == path


@pytest.mark.parametrize("query", ["the leading dashes are kept", "`leading` dashes are kept"])
def test_an_english_word_common_in_the_repository_names_no_symbol(big, query):
    _, index = big  # `Shell.leading` is defined once, but "leading" is in ten files' text
    assert "pkg/core/shell.py" not in sent(index, query)
