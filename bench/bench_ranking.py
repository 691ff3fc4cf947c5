"""Does the file an issue is about reach the drafter? On real repositories fetched by their package
clients: Django 5.1 (from PyPI, with issues written here) and the corpus projects
(tests/corpus/projects.yaml, whose issues name a planted bug's file).

    .venv/bin/python bench/bench_ranking.py [--only django,click] [--budget 24000]

For each issue: the rank of the defining file and whether it is among the files sent whole,
before (BM25 over words alone) and after (what the issue names first, then BM25), and whether
the named definition's own lines reached the prompt. Downloads are cached under
~/.cache/agentos-bench/ (the corpus's own cache for its projects). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentos.repo.context import RepoIndex, repo_context  # noqa: E402
from tests.corpus import fetch  # noqa: E402

CACHE = Path.home() / ".cache" / "agentos-bench"
DJANGO = "django==5.1.*"


@dataclass(frozen=True)
class Issue:
    """An issue as a user would write it, the file that defines what it is about, and the name
    whose definition the drafter must see."""

    title: str
    body: str
    file: str
    definition: str = ""


DJANGO_ISSUES = [
    Issue("slugify keeps leading and trailing dashes",
          "When a title starts with punctuation, slugify returns a slug that begins with a dash: "
          "'--Hello world!' gives '-hello-world'. I expected the leading and trailing dashes and "
          "underscores to be stripped, as the documentation says.",
          "django/utils/text.py", "slugify"),
    Issue("django.utils.text.slugify drops characters with allow_unicode",
          "Calling `django.utils.text.slugify('Ünïcödé Tïtlé', allow_unicode=True)` lower-cases "
          "but also removes the combining marks after NFKC normalisation on some inputs.",
          "django/utils/text.py", "slugify"),
    Issue("floatformat crashes on a Decimal with a huge exponent",
          "Rendering `{{ value|floatformat:2 }}` with `Decimal('1e1000')` raises:\n\n"
          "```\nTraceback (most recent call last):\n"
          '  File "/srv/app/venv/lib/python3.12/site-packages/django/template/base.py", line 1054, in render\n'
          "    output = self.filter_expression.resolve(context)\n"
          '  File "/srv/app/venv/lib/python3.12/site-packages/django/template/base.py", line 742, in resolve\n'
          "    new_obj = func(obj, *arg_vals)\n"
          '  File "/srv/app/venv/lib/python3.12/site-packages/django/template/defaultfilters.py", line 190, in floatformat\n'
          "    rounded_d = d.quantize(exp, ROUND_HALF_UP, Context(prec=prec))\n"
          "decimal.InvalidOperation: [<class 'decimal.InvalidOperation'>]\n```\n",
          "django/template/defaultfilters.py", "floatformat"),
    Issue("QuerySet.bulk_create with update_conflicts ignores unique_fields order",
          "With `Model.objects.bulk_create(objs, update_conflicts=True, unique_fields=['b', 'a'], "
          "update_fields=['c'])` the ON CONFLICT clause lists the fields in model order. "
          "`QuerySet.bulk_create` should keep the order given.",
          "django/db/models/query.py", "bulk_create"),
    Issue("dumpdata --natural-foreign fails for a model without natural_key",
          "Running `python manage.py dumpdata --natural-foreign myapp` stops with an error "
          "when one related model has no natural key method, instead of falling back to the "
          "primary key as the docs of the dumpdata command suggest.",
          "django/core/management/commands/dumpdata.py", "handle"),
    Issue("forms.DecimalField.clean accepts 'NaN' with max_digits",
          "A form with `forms.DecimalField(max_digits=5, decimal_places=2)` validates the string "
          "'NaN' without error, so `form.cleaned_data` holds Decimal('NaN') and saving fails "
          "later in the database. `to_python` should reject it like 'Infinity'.",
          "django/forms/fields.py", "DecimalField"),
    Issue("Paginator.get_page returns the last page for a negative number",
          "```python\nfrom django.core.paginator import Paginator\n\n"
          "p = Paginator(range(100), 10)\nprint(p.get_page(-3).number)\n```\n\n"
          "Prints 10. I would expect the first page for an invalid number below one.",
          "django/core/paginator.py", "get_page"),
    Issue("make_password with a None salt",
          "In django/contrib/auth/hashers.py, make_password(password, salt=None) generates a "
          "salt, but passing an empty string is accepted and produces a weak hash.",
          "django/contrib/auth/hashers.py", "make_password"),
]


def django_repo() -> Path:
    """Django 5.1's sdist from PyPI as a git repository, both cached under ~/.cache/agentos-bench."""
    archives = CACHE / "pypi"
    archives.mkdir(parents=True, exist_ok=True)
    if not list(archives.glob("django-5.1*.tar.gz")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        DJANGO, "-d", str(archives)], check=True)
    archive = sorted(archives.glob("django-5.1*.tar.gz"))[-1]
    repo = CACHE / "repos" / archive.name.removesuffix(".tar.gz")
    if not (repo / ".git").exists():
        fetch.unpack(archive, repo)
        fetch.git(repo, "init", "--quiet", "--initial-branch=main")
        fetch.commit_all(repo, "published source")
    return repo


def corpus_cases(only: set[str]) -> list[tuple[str, Path, list[Issue]]]:
    """The corpus projects (PyPI ones, already fetched by tests/corpus/fetch.py) with the bug planted."""
    out = []
    for project in fetch.load_projects():
        if project.source != "pypi" or (only and project.name not in only):
            continue
        repo = CACHE / "repos" / f"corpus-{project.name}-{project.version}"
        if not (repo / ".git").exists():
            fetch.prepare(project, repo, with_bug=True)
        issue = project.data["issue"]
        out.append((project.name, repo, [Issue(issue["title"], issue["body"], project.bug.file)]))
    return out


def bm25_only(index: RepoIndex, query: str, limit: int = 12):
    """The ranking before the symbol index: BM25 over words alone."""
    return [(entry, ()) for entry in index.rank(query, limit)]


def measure(index: RepoIndex, repo: Path, issue: Issue, budget: int, before: bool) -> tuple[int | None, bool, bool]:
    """(rank of the defining file, whether it is sent whole, whether its definition is shown)."""
    query = f"{issue.title}\n{issue.body}\n"
    relevant = RepoIndex.relevant
    if before:
        RepoIndex.relevant = bm25_only
    try:
        order = [e.path for e, _ in index.relevant(query, limit=len(index.entries))]
        text = repo_context(index, repo, query, budget)
    finally:
        RepoIndex.relevant = relevant
    rank = order.index(issue.file) + 1 if issue.file in order else None
    block = text.partition(f"### {issue.file}\n")[2].partition("\n### ")[0]
    shown = bool(block) and bool(issue.definition) and f" {issue.definition}" in block
    return rank, bool(block), shown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated: django and/or corpus project names")
    parser.add_argument("--budget", type=int, default=24000, help="context_tokens (the LLD stage's default)")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    cases = [("django", django_repo(), DJANGO_ISSUES)] if not only or "django" in only else []
    if not only or only - {"django"}:
        cases += corpus_cases(only - {"django"})
    totals = {"before": [0, 0], "after": [0, 0]}
    print(f"{'project':18} {'files':>5}  {'issue':52} {'before':>12} {'after':>12}  definition shown")
    for name, repo, issues in cases:
        started = time.perf_counter()
        index = RepoIndex.build(repo, CACHE / "index" / repo.name)
        for issue in issues:
            row = {}
            for label in ("before", "after"):
                rank, sent, shown = measure(index, repo, issue, args.budget, label == "before")
                totals[label][0] += sent
                totals[label][1] += 1
                row[label] = (f"{rank or '-':>4} {'sent' if sent else 'not sent':>8}", shown)
            shown = "n/a" if not issue.definition else f"{'yes' if row['before'][1] else 'no'} -> {'yes' if row['after'][1] else 'no'}"
            print(f"{name:18} {len(index.entries):>5}  {issue.title[:52]:52} {row['before'][0]:>12} {row['after'][0]:>12}  {shown}")
        print(f"{'':18} index {time.perf_counter() - started:.1f}s")
    for label, (sent, total) in totals.items():
        print(f"{label}: defining file sent whole for {sent} of {total} issues")


if __name__ == "__main__":
    main()
