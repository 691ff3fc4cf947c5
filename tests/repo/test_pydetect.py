"""agentos.repo.pydetect (through testcmd.detect): the runner of a Python project, from evidence, and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentos.repo.testcmd import CONFIG_KEY, Detection, describe_test_command, detect
from tests.repo.test_testcmd import write

PYTEST = "{python} -m pytest -q"
UNITTEST_TESTS = "{python} -m unittest discover -v -s tests -t ."
TESTCASE = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
PYTEST_STYLE = "import pytest\n\n\n@pytest.fixture\ndef thing():\n    return 1\n\n\ndef test_a(thing):\n    assert thing\n"


def detected(tmp_path: Path, files: dict[str, str]) -> Detection:
    return detect(write(tmp_path, files))


# --- one kind of evidence at a time -------------------------------------------------------

@pytest.mark.parametrize("files, reason", [
    ({"tests/test_a.py": PYTEST_STYLE}, "pytest: tests/test_a.py imports pytest"),
    ({"tests/test_a.py": "from pytest import raises\n"}, "pytest: tests/test_a.py imports pytest"),
    ({"tests/test_a.py": "def test_a():\n    assert 1\n"}, "pytest: tests/test_a.py has module-level test functions"),
    ({"tests/test_a.py": "async def test_a():\n    assert 1\n"},
     "pytest: tests/test_a.py has module-level test functions"),
    ({"tests/test_a.py": "class TestThing:\n    def test_a(self):\n        assert 1\n"},
     "pytest: tests/test_a.py has plain Test classes"),
    ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-ra'\n"},
     "pytest: [tool.pytest.ini_options] in pyproject.toml"),
    ({"pyproject.toml": "[tool.pytest]\nminversion = '9.0'\n"}, "pytest: [tool.pytest] in pyproject.toml"),
    ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\ntestpaths = tests\n"}, "pytest: [tool:pytest] in setup.cfg"),
    ({"tox.ini": "[pytest]\naddopts = -q\n"}, "pytest: [pytest] in tox.ini"),
    ({"pytest.ini": ""}, "pytest: pytest.ini"),
    ({"tests/conftest.py": "", "tests/test_a.py": TESTCASE}, "pytest: tests/conftest.py (pytest's conftest)"),
    ({"requirements-test.txt": "pytest-cov\n", "tests/test_a.py": ""},
     "pytest: pytest is declared in requirements-test.txt"),
    ({"pyproject.toml": "[dependency-groups]\ntest = [{include-group = 'base'}]\nbase = ['pytest>=8']\n",
      "tests/test_a.py": ""}, "pytest: pytest is declared in [dependency-groups] test in pyproject.toml"),
])
def test_pytest_is_detected_from_each_kind_of_evidence(tmp_path, files, reason):
    found = detected(tmp_path, files)

    assert found.command == PYTEST
    assert found.reason.startswith(reason), found.reason


def test_a_unittest_only_suite_is_run_with_unittest_and_says_why(tmp_path):
    found = detected(tmp_path, {"tests/__init__.py": "", "tests/test_a.py": TESTCASE,
                                "tests/test_b.py": "import unittest\n"})

    assert found.command == UNITTEST_TESTS
    assert found.reason == ("unittest: tests/test_a.py defines unittest.TestCase classes, "
                            "and nothing shows pytest")


def test_one_pytest_style_file_among_testcase_files_means_pytest(tmp_path):
    found = detected(tmp_path, {"tests/test_a.py": TESTCASE, "tests/test_b.py": "def test_b():\n    pass\n"})

    assert found.command == PYTEST and "tests/test_b.py has module-level test functions" in found.reason


def test_pytest_mentioned_only_in_prose_is_not_evidence(tmp_path):
    found = detected(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\ndescription = 'no pytest here'\n",
                                "tests/test_a.py": TESTCASE})

    assert found.command == UNITTEST_TESTS


# --- commands the project declares ----------------------------------------------------------

@pytest.mark.parametrize("files, command, reason", [
    ({"tox.ini": "[tox]\nenvlist = py3\n[testenv]\ndeps = pytest\ncommands = pytest {posargs} tests\n",
      "tests/test_a.py": TESTCASE}, PYTEST + " tests", "pytest: tox.ini [testenv] runs `pytest tests`"),
    ({"tox.ini": "[testenv]\ncommands =\n    coverage run -m pytest {posargs:tests/unit}\n    coverage report\n",
      "tests/unit/test_a.py": ""}, PYTEST + " tests/unit", "pytest: tox.ini [testenv] runs `coverage run -m pytest"),
    ({"tox.ini": "[testenv]\ncommands = {envpython} -m unittest discover -s tests\n", "tests/test_a.py": TESTCASE},
     "{python} -m unittest discover -v -s tests", "unittest: tox.ini [testenv] runs `python -m unittest"),
    ({"tox.ini": "[testenv:lint]\ncommands = flake8\n[testenv:py]\ncommands = py.test -x\n"}, PYTEST,
     "pytest: tox.ini [testenv:py] runs `py.test -x`"),
    ({"setup.cfg": "[tox:tox]\nenvlist = py\n[testenv]\ncommands = pytest\n"}, PYTEST,
     "pytest: setup.cfg [testenv] runs `pytest`"),
    ({"pyproject.toml": "[tool.tox]\nlegacy_tox_ini = '''\n[testenv]\ncommands = pytest {posargs}\n'''\n"}, PYTEST,
     "pytest: pyproject.toml legacy_tox_ini [testenv] runs `pytest`"),
    ({"pyproject.toml": "[tool.tox.env_run_base]\ncommands = [['pytest', '{posargs}', 'tests']]\n",
      "tests/test_a.py": ""}, PYTEST + " tests", "pytest: pyproject.toml [tool.tox.env_run_base] runs"),
    ({"noxfile.py": "import nox\n\n@nox.session(python=['3.11'])\ndef lint(session):\n    session.run('ruff')\n\n"
                    "@nox.session\ndef tests(session):\n    session.install('.[test]')\n"
                    "    session.run('pytest', *session.posargs)\n"}, PYTEST,
     "pytest: noxfile.py session tests runs `pytest`"),
    ({"pyproject.toml": "[tool.hatch.envs.default.scripts]\ntest = 'pytest {args:tests}'\n", "tests/test_a.py": ""},
     PYTEST + " tests", "pytest: pyproject.toml [tool.hatch.envs.default.scripts] test runs `pytest tests`"),
    ({"pyproject.toml": "[tool.hatch.envs.hatch-test]\nextra-dependencies = ['hypothesis']\n"}, PYTEST,
     "pytest: pyproject.toml [tool.hatch.envs.hatch-test] runs `pytest`"),
])
def test_a_declared_test_command_is_followed(tmp_path, files, command, reason):
    found = detected(tmp_path, files)

    assert found.command == command
    assert found.reason.startswith(reason), found.reason


def test_a_declared_command_names_the_other_evidence_too(tmp_path):
    found = detected(tmp_path, {"tox.ini": "[testenv]\ncommands = pytest\n[pytest]\nminversion = 7\n",
                                "tests/test_a.py": PYTEST_STYLE})

    assert found.reason == ("pytest: tox.ini [testenv] runs `pytest`; [pytest] in tox.ini; "
                            "tests/test_a.py imports pytest")


def test_tox_envs_that_run_no_test_runner_are_ignored(tmp_path):
    found = detected(tmp_path, {"tox.ini": "[testenv]\ncommands = python setup.py check\n",
                                "tests/test_a.py": TESTCASE})

    assert found.command == UNITTEST_TESTS


# --- real layouts ---------------------------------------------------------------------------

def test_src_layout_with_pytest(tmp_path):
    found = detected(tmp_path, {
        "pyproject.toml": "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n"
                          "[project]\nname = 'pkg'\nversion = '1'\n[project.optional-dependencies]\n"
                          "test = ['pytest>=7', 'pytest-mock']\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
        "src/pkg/__init__.py": "", "src/pkg/core.py": "def f():\n    return 1\n",
        "tests/conftest.py": "import pytest\n", "tests/test_core.py": "from pkg.core import f\n\n\ndef test_f():\n"
                                                                        "    assert f() == 1\n"})

    assert found == Detection(PYTEST, "pytest: [tool.pytest.ini_options] in pyproject.toml; tests/conftest.py "
                                      "(pytest's conftest); tests/test_core.py has module-level test functions")


def test_flat_layout_with_a_unittest_suite(tmp_path):
    found = detected(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='pkg')\n",
                                "pkg/__init__.py": "", "tests/__init__.py": "", "tests/test_pkg.py": TESTCASE})

    assert found.command == UNITTEST_TESTS and found.reason.startswith("unittest: tests/test_pkg.py")


def test_tests_inside_the_package(tmp_path):
    files = {"pyproject.toml": "[project]\nname = 'pkg'\n", "pkg/__init__.py": "", "pkg/tests/__init__.py": ""}
    unittest_only = detected(tmp_path / "a", {**files, "pkg/tests/test_x.py": TESTCASE})
    with_pytest = detected(tmp_path / "b", {**files, "pkg/tests/test_x.py": PYTEST_STYLE})

    assert unittest_only.command == "{python} -m unittest discover -v"
    assert with_pytest == Detection(PYTEST, "pytest: pkg/tests/test_x.py imports pytest")


def test_tests_inside_a_src_layout_package_are_discovered_from_src(tmp_path):
    found = detected(tmp_path, {"src/pkg/__init__.py": "", "src/pkg/tests/__init__.py": "",
                                "src/pkg/tests/test_x.py": TESTCASE})

    assert found.command == "{python} -m unittest discover -v -s src -t src"


def test_vendored_and_hidden_folders_are_not_evidence(tmp_path):
    found = detected(tmp_path, {"tests/test_a.py": TESTCASE, ".tox/py/lib/test_x.py": PYTEST_STYLE,
                                "venv/lib/test_y.py": PYTEST_STYLE, "build/lib/conftest.py": ""})

    assert found.command == UNITTEST_TESTS


# --- other ecosystems -----------------------------------------------------------------------

@pytest.mark.parametrize("lock, command", [
    ("pnpm-lock.yaml", "pnpm test"), ("yarn.lock", "yarn test"), ("package-lock.json", "npm test"), (None, "npm test"),
])
def test_the_node_package_manager_comes_from_the_lock_file(tmp_path, lock, command):
    files = {"package.json": json.dumps({"scripts": {"test": "vitest run"}}), **({lock: ""} if lock else {})}

    found = detected(tmp_path, files)

    assert found.command == command
    assert found.reason.startswith(f"{command.split()[0]}: package.json scripts.test `vitest run`")
    assert (lock or "") in found.reason


def test_go_cargo_and_make_say_why(tmp_path):
    assert detected(tmp_path / "g", {"go.mod": "module x\n"}) == Detection("go test -v ./...", "go: go.mod")
    assert detected(tmp_path / "c", {"Cargo.toml": ""}) == Detection("cargo test", "cargo: Cargo.toml")
    assert detected(tmp_path / "m", {"Makefile": "test:\n\t./t\n"}) == Detection("make test",
                                                                                  "make: Makefile has a test target")


# --- what doctor and --dry-run show ---------------------------------------------------------

def test_describe_test_command_for_doctor(tmp_path):
    write(tmp_path, {"tests/test_a.py": PYTEST_STYLE})

    assert describe_test_command(tmp_path) == (PYTEST, "pytest: tests/test_a.py imports pytest")
    assert describe_test_command(tmp_path, "make check") == ("make check", f"set in {CONFIG_KEY}")
    command, why = describe_test_command(tmp_path / "tests" / "empty-dir-that-is-missing")
    assert command is None and "no test command could be detected" in why and CONFIG_KEY in why


# --- declared commands as real projects write them ----------------------------------------

@pytest.mark.parametrize("tox, files, command", [
    # boltons: runs from .tox against the installed package, doctests included
    ("cd .tox && pytest --doctest-modules {envsitepackagesdir}/boltons {toxinidir}/tests",
     {"boltons/__init__.py": "", "tests/test_a.py": ""}, PYTEST + " --doctest-modules boltons tests"),
    # itsdangerous: a per-run temporary folder tox makes
    ("pytest -v --tb=short --basetemp={envtmpdir} {posargs}", {"tests/test_a.py": ""}, PYTEST + " --tb=short"),
    # w3lib: coverage options (their files would land in the worktree), paths kept
    ("python -m pytest --doctest-modules --cov=w3lib --cov-report=term --cov-report=xml {posargs:w3lib tests}",
     {"w3lib/__init__.py": "", "tests/test_a.py": ""}, PYTEST + " --doctest-modules w3lib tests"),
    # humanize: `--cov NAME` with the value apart; src layout
    ("python -m pytest --cov humanize --cov tests --cov-report html {posargs}",
     {"src/humanize/__init__.py": "", "tests/test_a.py": ""}, PYTEST),
    # cachetools: TestCase classes, yet its developers run pytest
    ("py.test --basetemp={envtmpdir} --cov=cachetools {posargs}", {"tests/test_a.py": TESTCASE}, PYTEST),
    # stop-early and parallel options are the stage's business, markers and plugins the project's
    ("pytest -x -n auto -m 'not slow' -p no:randomly tests/unit::test_a", {"tests/unit/__init__.py": ""},
     PYTEST + " -m 'not slow' -p no:randomly tests/unit::test_a"),
])
def test_declared_pytest_commands_keep_what_matters(tmp_path, tox, files, command):
    found = detected(tmp_path, {"tox.ini": f"[testenv]\ncommands =\n    {tox}\n", **files})

    assert found.command == command
    assert found.reason.startswith("pytest: tox.ini [testenv] runs `")


def test_more_itertools_runs_unittest_as_tox_says(tmp_path):
    found = detected(tmp_path, {"tox.ini": "[testenv]\ncommands =\n    {envpython} -m unittest -v {posargs}\n",
                                "tests/__init__.py": "", "tests/test_more.py": TESTCASE})

    assert found == Detection("{python} -m unittest -v",
                              "unittest: tox.ini [testenv] runs `python -m unittest -v`; "
                              "tests/test_more.py defines unittest.TestCase classes")


def test_pytest_in_poetrys_dev_dependencies_is_evidence(tmp_path):
    found = detected(tmp_path, {"pyproject.toml": "[tool.poetry.dev-dependencies]\npytest = '^4.6.4'\n",
                                "tests/test_a.py": ""})

    assert found == Detection(PYTEST, "pytest: pytest is declared in [tool.poetry.dev-dependencies] in pyproject.toml")


def test_a_tox_command_behind_an_environment_variable_and_benchmark_envs_last(tmp_path):
    # pluggy: `{env:_PLUGGY_TOX_CMD:pytest} {posargs}`, and a [testenv:benchmark] that runs one file
    found = detected(tmp_path, {"tox.ini": "[testenv]\ncommands=\n  {env:_PLUGGY_TOX_CMD:pytest} {posargs}\n"
                                           "  coverage: coverage report -m\n[testenv:benchmark]\n"
                                           "commands=pytest {posargs:testing/benchmark.py}\n",
                                "testing/benchmark.py": ""})
    bench_only = detected(tmp_path / "b", {"tox.ini": "[testenv:benchmark]\ncommands=pytest bench\n"
                                                      "[testenv:unit]\ncommands=pytest tests\n",
                                           "tests/test_a.py": "", "bench/x.py": ""})

    assert found.command == PYTEST and found.reason.startswith("pytest: tox.ini [testenv] runs `pytest`")
    assert bench_only.command == PYTEST + " tests"


def test_a_projects_own_runner_script_as_tox_runs_it(tmp_path):
    # Django: `changedir = tests`, `commands = {envpython} runtests.py {posargs}`
    found = detected(tmp_path, {"tox.ini": "[testenv]\nchangedir = tests\ncommands =\n"
                                           "    {envpython} runtests.py {posargs}\n",
                                "tests/runtests.py": "", "tests/test_x/tests.py": TESTCASE})

    assert found == Detection("cd tests && {python} runtests.py",
                              "script: tox.ini [testenv] runs `python runtests.py` in tests/")


def test_a_script_gives_way_to_pytest_evidence_and_setup_py_is_no_runner(tmp_path):
    with_pytest = detected(tmp_path / "a", {"tox.ini": "[testenv]\ncommands = python tools/check.py\n",
                                            "tests/test_a.py": PYTEST_STYLE})
    setup_py = detected(tmp_path / "b", {"tox.ini": "[testenv]\ncommands = python setup.py test\n",
                                         "tests/test_a.py": TESTCASE})

    assert with_pytest.command == PYTEST
    assert setup_py.command == UNITTEST_TESTS
