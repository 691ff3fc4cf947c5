"""The whole pipeline on real projects: `orchestrate --issue 1` on each corpus project at its
planted bug, every model behind the replay server (tests/corpus/replay.py) through the
`openai-compatible:` provider, exactly as a user runs it.

Each case asserts what a user needs from it: exit 0; a tests-first commit whose new test fails
on the base code, then the fix; the project's own suite passing on the branch with its own
runner; no build output committed; the user's checkout untouched. The variant cases play the
answers real models give: documents in fences, a truncated answer, a refusal (then a resumed
run), a criterion about behaviour that must stay the same, and a code reviewer's adversarial test
(run with the project's own runner, kept in its own commit).

Projects agentos cannot yet take through are xfail(strict=True) with what goes wrong, so each
one turns into a failure the day it is fixed.
"""

from __future__ import annotations

import re
from pathlib import Path
import pytest

from tests.corpus import fetch
from tests.corpus.conftest import Pipeline, ProjectEnv, user_tree
from tests.corpus.replay import Variant, role_of

pytestmark = pytest.mark.corpus

BRANCH = "agentos/issue-1"
BUILD_OUTPUT = re.compile(r"(^|/)(\.venv|venv|build|dist|node_modules|__pycache__|\.pytest_cache|\.tox|\.mypy_cache|"
                          r"\.ruff_cache|htmlcov|coverage|\.nyc_output)/|\.egg-info(/|$)|\.pyc$|(^|/)\.coverage")
PROJECTS = {p.name: p for p in fetch.load_projects()}

XFAIL: dict[str, str] = {}
"""Project → what agentos does wrong on it today (observed; see the module docstring)."""


def _param(name: str):
    marks = [pytest.mark.xfail(reason=XFAIL[name], strict=True)] if name in XFAIL else []
    return pytest.param(PROJECTS[name], id=name, marks=marks)


def commits_on_branch(repo: Path) -> list[tuple[str, str, list[str]]]:
    """(sha, subject, files changed) of each commit on the work branch, oldest first."""
    shas = fetch.git(repo, "rev-list", "--reverse", f"main..{BRANCH}").split()
    return [(sha, fetch.git(repo, "log", "-1", "--format=%s", sha).strip(),
             fetch.git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split()) for sha in shas]


def assert_pipeline_result(p: Pipeline, before: str, run, kept: tuple[str, ...] = ()) -> None:
    """Everything a finished run must have done, checked with the project's own runner; `kept`: the
    test ids of the code reviewer's adversarial tests, each file in a commit of its own after the fix."""
    project, repo = p.project, p.repo
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert user_tree(repo) == before, "the user's checkout changed"

    changed = fetch.git(repo, "diff", "--name-only", f"main..{BRANCH}").split()
    assert [f for f in changed if BUILD_OUTPUT.search(f)] == [], "build output committed"

    commits = commits_on_branch(repo)
    code = [c for c in commits if any(not f.startswith("docs/agentos/") for f in c[2])]
    test_file, fix_file = project.data["new_test"]["file"], project.fix.file
    adversarial = [[path] for path in dict.fromkeys(k.partition("::")[0] for k in kept)]
    assert [c[2] for c in code] == [[test_file], [fix_file], *adversarial], f"code commits: {code}"
    red, green = code[:2]
    assert red[1].startswith("test:") and all(c[1].startswith("test:") for c in code[2:]), code

    new_test = project.data["new_test"]["id"]
    with ProjectEnv(project) as env:
        env.fetch_from(repo)
        env.at(fetch.git(repo, "rev-parse", "main").strip())
        fetch.git(env.checkout, "checkout", "--quiet", red[0], "--", test_file)  # base code + the new test
        assert env.outcome(new_test) == "failed", f"{new_test} does not fail on the base code"
        env.at(green[0])
        suite = env.suite()
        assert suite.returncode == 0, suite.tail(40)
        assert env.outcome(new_test) == "passed"
        if kept:  # the branch as reviewed: the reviewer's tests pass with the project's own runner
            env.at(code[-1][0])
            assert env.suite().returncode == 0
            assert {test: env.outcome(test) for test in kept} == {test: "passed" for test in kept}


@pytest.mark.parametrize("project", [_param(n) for n in PROJECTS])
def test_orchestrate_takes_the_issue_to_a_tested_fix(project, pipeline):
    p = pipeline(project)
    before = user_tree(p.repo)
    assert_pipeline_result(p, before, p.orchestrate())


# -- the answers real models give, on a small project -----------------------------------------

SMALL = PROJECTS["pyproject-metadata"]
"""Fast, and taken through today; the variants change only the model's answers."""


def test_documents_in_fences_and_a_revision_round(pipeline):
    p = pipeline(SMALL, Variant(fenced=True, revise="lld"))
    before = user_tree(p.repo)
    assert_pipeline_result(p, before, p.orchestrate())
    revisions = {step: s.requests for step, s in p.server.stats.items() if ".revise" in step}
    assert revisions == {"lld.revise": 1}, "fenced drafts needed revisions of their own"
    assert p.server.stats["lld.review"].requests == 2
    lld = fetch.git(p.repo, "show", f"{BRANCH}:docs/agentos/issue-1/lld.md")
    assert not lld.startswith("Here is") and "```markdown" not in lld


def test_a_truncated_answer_is_asked_again_with_more_room(pipeline):
    p = pipeline(SMALL, Variant(truncate="spec.draft"))
    before = user_tree(p.repo)
    assert_pipeline_result(p, before, p.orchestrate())
    asked = [r.body["max_tokens"] for r in p.server.requests
             if r.body and role_of(r.body["messages"]).startswith("You are a senior engineer writing a implementation spec")]
    assert len(asked) == 2 and asked[1] > asked[0]


def test_a_refusal_stops_the_run_resumably(pipeline):
    p = pipeline(SMALL, Variant(refuse="lld.draft"))
    before = user_tree(p.repo)
    first = p.orchestrate()
    said = first.stdout + first.stderr
    assert first.returncode != 0 and "refused to answer lld.draft" in said, said[-3000:]
    p.server.variant.refuse = None
    assert_pipeline_result(p, before, p.orchestrate())
    assert p.server.stats["triage.draft"].requests == 1  # the finished stage is not paid again


EDGES = {"path": "tests/test_strutils_edges.py", "content": (
    "from boltons.strutils import slugify\n\n\n"
    "def test_slugify_runs_of_delimiters_inside_become_one():\n"
    "    assert slugify(\"a -- b\", delim=\"-\") == \"a-b\"\n\n\n"
    "def test_slugify_strips_underscores_at_both_ends():\n"
    "    assert slugify(\"__init__\") == \"init\"\n")}
"""The code reviewer's test for boltons (doctests, an old pytest pinned in tox's deps)."""


def test_the_code_reviewers_adversarial_test_runs_with_the_projects_own_runner_and_is_kept(pipeline):
    p = pipeline(PROJECTS["boltons"], Variant(adversarial=EDGES))
    before = user_tree(p.repo)
    kept = (f"{EDGES['path']}::test_slugify_runs_of_delimiters_inside_become_one",
            f"{EDGES['path']}::test_slugify_strips_underscores_at_both_ends")
    assert_pipeline_result(p, before, p.orchestrate(), kept=kept)
    body = next(iter(p.repo.glob(".agentos/runs/*/pr/body.md"))).read_text()
    assert EDGES["path"] in body  # named in the pull request


def test_a_kept_behaviour_criterion_maps_to_an_existing_test(pipeline):
    p = pipeline(SMALL, Variant(kept_behaviour=True))
    before = user_tree(p.repo)
    assert_pipeline_result(p, before, p.orchestrate())
    spec = fetch.git(p.repo, "show", f"{BRANCH}:docs/agentos/issue-1/spec.md")
    kept = SMALL.data["kept_behaviour"]["test"]
    assert kept in spec
    red = next(sha for sha, subject, _ in commits_on_branch(p.repo) if subject.startswith("test:"))
    assert kept not in fetch.git(p.repo, "log", "--format=%B", "-1", red)  # not counted as written first
