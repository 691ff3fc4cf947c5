"""The reviewer's tests are untrusted: which paths agentos writes, and how a run is read per file."""

from __future__ import annotations

from agentos.repo.testreport import TestRun
from agentos.workflows.code_review.adversarial import accept, judge
from agentos.workflows.code_review.schema import AdversarialTest


def _run(**kw) -> TestRun:
    base = dict(command="pytest", exit_code=1, timed_out=False, duration_s=0.1, passed=0, failed=0, errors=0,
                skipped=0, failed_tests=[], output="out", counts_known=True, passed_tests=[])
    return TestRun(**{**base, **kw})


def test_only_new_test_files_inside_the_worktree_are_written(tmp_path):
    root, outside = tmp_path / "wt", tmp_path / "out"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_old.py").write_text("")
    (root / "README.md").write_text("")
    outside.mkdir()
    (root / "tests" / "link").symlink_to(outside)
    paths = ["tests/test_new.py", "./tests/test_dot.py", "../test_up.py", "/tmp/test_abs.py", "calc/ops.py",
             "tests/test_old.py", ".github/workflows/test_ci.yml", "README.md/test_x.py", "tests/test_new.py",
             "tests/link/test_out.py", "tests/test_three.py", "tests/test_four.py"]
    accepted, refused = accept([AdversarialTest(path=p, content="def test_x():\n    pass\n") for p in paths], root, 3)
    assert [t["path"] for t in accepted] == ["tests/test_new.py", "tests/test_dot.py", "tests/test_three.py"]
    reasons = {r["path"]: r["reason"] for r in refused}
    assert "resolves outside the repository" in reasons["tests/link/test_out.py"]
    assert "over the limit of 3" in reasons["tests/test_four.py"]
    assert "relative to the repository root" in reasons["../test_up.py"] and "relative" in reasons["/tmp/test_abs.py"]
    assert "not a test file name" in reasons["calc/ops.py"]
    assert "exists already" in reasons["tests/test_old.py"]
    assert "a folder on its path is a file" in reasons["README.md/test_x.py"]
    assert ".github/workflows/test_ci.yml" in reasons and len(refused) == len(paths) - 3


def test_over_the_limit_and_empty_tests_are_refused(tmp_path):
    tests = [AdversarialTest(path=f"tests/test_{i}.py", content="def test_x(): pass\n") for i in range(3)]
    accepted, refused = accept([*tests, AdversarialTest(path="tests/test_empty.py", content=" ")], tmp_path, 2)
    assert len(accepted) == 2 and [r["path"] for r in refused] == ["tests/test_2.py", "tests/test_empty.py"]
    assert "over the limit of 2" in refused[0]["reason"]


def test_each_file_is_judged_failing_passing_or_broken():
    tests = [{"path": p} for p in ("tests/test_a.py", "tests/test_b.py", "tests/test_c.py", "tests/test_d.py")]
    run = _run(passed=3, failed=1, errors=1, failed_tests=["tests/test_a.py::test_x", "tests/test_c.py"],
               passed_tests=["tests/test_b.py::test_y", "tests/test_b.py::test_z", "tests/test_old.py::test_o"])
    results = {r["path"]: (r["status"], r["tests"]) for r in judge(run, _run(), tests)}
    assert results == {"tests/test_a.py": ("failing", ["tests/test_a.py::test_x"]),
                       "tests/test_b.py": ("passing", ["tests/test_b.py::test_y", "tests/test_b.py::test_z"]),
                       "tests/test_c.py": ("broken", []), "tests/test_d.py": ("broken", [])}


def test_unittest_import_errors_and_unnamed_runners():
    broken = _run(errors=1, failed_tests=["unittest.loader._FailedTest.test_adv"])
    assert judge(broken, _run(), [{"path": "tests/test_adv.py"}])[0]["status"] == "broken"
    # A runner that names no test by file: judged against the run without the new tests.
    before = _run(exit_code=0, passed=4, counts_known=True)
    more_failing = _run(passed=4, failed=1, failed_tests=["clamps NaN"])
    assert judge(more_failing, before, [{"path": "test/nan.test.js"}])[0]["status"] == "failing"
    more_passing = _run(exit_code=0, passed=5)
    assert judge(more_passing, before, [{"path": "test/nan.test.js"}])[0]["status"] == "passing"
