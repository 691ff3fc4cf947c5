"""What the test environment installs: what the project declares, as its developers would install it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.workflows.implementation.installplan import plan_install
from tests.repo.test_testcmd import write

INSTALLABLE = "[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n"


def plan(tmp_path: Path, files: dict[str, str], runs_pytest: bool = True, runner: str | None = None):
    return plan_install(write(tmp_path, files), runs_pytest, runner=runner)


def test_tox_deps_and_extras_join_the_projects_own(tmp_path):
    found = plan(tmp_path, {
        "pyproject.toml": INSTALLABLE + "[project]\nname = 'x'\n[project.optional-dependencies]\ntesting = ['attrs']\n",
        "requirements-test.txt": "pytest>=7\n",
        "tox.ini": "[testenv]\nextras = testing\ndeps =\n    pytest-cov\n    -r{toxinidir}/requirements-test.txt\n"
                   "    py38: pytest<7\n    -c constraints.txt\ncommands = pytest {posargs}\n"})

    assert found.args == ["-e", ".[testing]", "-r", "requirements-test.txt", "pytest-cov", "-c", "constraints.txt"]
    assert found.runner is None  # requirements-test.txt names pytest: the project's own pin
    assert found.sources == ["the project, editable with extras testing", "requirements-test.txt",
                             "tox.ini [testenv] deps"]


def test_tox_deps_references_to_other_sections_are_followed(tmp_path):
    found = plan(tmp_path, {"tox.ini": "[base]\ndeps = hypothesis\n[testenv]\ndeps =\n    {[base]deps}\n    pytest==7.4\n"
                                       "commands = pytest\n"})

    assert found.args == ["hypothesis", "pytest==7.4"] and found.runner is None


def test_dependency_groups_with_include_group(tmp_path):
    found = plan(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n[dependency-groups]\n"
                                              "test = ['coverage', {include-group = 'typing'}]\ntyping = ['mypy']\n"
                                              "docs = ['sphinx']\n"})

    assert found.args == ["coverage", "mypy", "pytest"]
    assert found.runner == "pytest"


def test_the_group_a_tox_env_names_is_installed(tmp_path):
    found = plan(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n[dependency-groups]\nci = ['pytest>=8']\n",
                            "tox.ini": "[testenv]\ndependency_groups = ci\ncommands = pytest\n"})

    assert found.args == ["pytest>=8"] and found.runner is None


def test_nox_session_installs(tmp_path):
    found = plan(tmp_path, {
        "pyproject.toml": INSTALLABLE + "[project]\nname = 'x'\n[project.optional-dependencies]\ntests = ['x']\n",
        "noxfile.py": "import nox\nDEPS = ['hypothesis', 'pytest-randomly']\n\n@nox.session\ndef tests(session):\n"
                      "    session.install('-e', '.[tests]')\n    session.install(*DEPS)\n"
                      "    session.install('-r', 'ci/test-requirements.txt')\n    session.run('pytest')\n"})

    assert found.args == ["-e", ".[tests]", "hypothesis", "pytest-randomly", "-r", "ci/test-requirements.txt", "pytest"]


def test_hatch_env_dependencies_and_features(tmp_path):
    found = plan(tmp_path, {"pyproject.toml": INSTALLABLE + "[project]\nname = 'x'\n[project.optional-dependencies]\n"
                                              "cli = ['click']\n[tool.hatch.envs.default]\ndependencies = ['coverage']\n"
                                              "[tool.hatch.envs.test]\ndependencies = ['pytest~=8.0']\n"
                                              "features = ['cli']\n[tool.hatch.envs.test.scripts]\n"
                                              "run = 'pytest {args}'\n"})

    assert found.args == ["-e", ".[cli]", "coverage", "pytest~=8.0"] and found.runner is None


def test_requirement_files_for_docs_are_left_out(tmp_path):
    found = plan(tmp_path, {"requirements.txt": "attrs\n", "requirements-docs.txt": "sphinx\n",
                            "requirements/test.txt": "-r ../requirements.txt\npytest\n", "requirements/docs.txt": ""})

    assert found.args == ["-r", "requirements.txt", "-r", "requirements/test.txt"] and found.runner is None


@pytest.mark.parametrize("files, remembered, runner", [
    ({"pytest.ini": "[pytest]\nminversion = 7.0\n"}, None, "pytest>=7.0"),
    ({"pyproject.toml": "[tool.pytest.ini_options]\nminversion = '6.2'\n"}, "pytest<9", "pytest>=6.2,<9"),
    ({"setup.cfg": "[tool:pytest]\naddopts = -ra\n"}, "pytest<8", "pytest<8"),
    ({"requirements-dev.txt": "pytest-django\n"}, None, "pytest"),  # a plugin names no version of pytest itself
])
def test_the_added_runner_honours_the_projects_minversion_and_the_remembered_bound(tmp_path, files, remembered,
                                                                                   runner):
    found = plan(tmp_path, files, runner=remembered)

    assert found.runner == runner and found.args[-1] == runner
    assert not found.declares_runner and found.override is None


def test_a_remembered_runner_overrides_the_projects_own_pin(tmp_path):
    files = {"requirements-test.txt": "pytest==4.6.4\n", "pytest.ini": "[pytest]\nminversion = 4.0\n"}

    pinned = plan(tmp_path / "a", files)
    newest = plan(tmp_path / "b", files, runner="pytest")
    capped = plan(tmp_path / "c", files, runner="pytest<9")

    assert pinned.declares_runner and pinned.override is None and pinned.runner is None
    assert newest.override == "pytest>=4.0" and capped.override == "pytest>=4.0,<9"
    assert newest.args == capped.args == ["-r", "requirements-test.txt"]


def test_no_runner_is_added_for_unittest(tmp_path):
    assert plan(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n"}, runs_pytest=False).args == []


def test_plugins_the_pytest_configuration_uses_are_added(tmp_path):
    # semver: tox installs only pytest, but setup.cfg's addopts need pytest-cov
    found = plan(tmp_path, {"setup.cfg": "[tool:pytest]\naddopts = --no-cov-on-fail --cov=semver -n 2\n"
                                         "timeout = 30\nrequired_plugins = pytest-mock>=3\n",
                            "tox.ini": "[testenv]\nskip_install = true\ndeps = pytest\ncommands = pytest {posargs}\n"})

    assert found.args == ["pytest", "pytest-mock>=3", "pytest-cov", "pytest-xdist", "pytest-timeout"]
    assert "pytest plugins that [tool:pytest] in setup.cfg uses" in found.sources


def test_plugins_the_project_declares_are_not_added_twice(tmp_path):
    found = plan(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = ['--cov', 'pkg']\n"
                                              "asyncio_mode = 'auto'\n",
                            "requirements-dev.txt": "pytest-cov==5.0\npytest_asyncio\n"})

    assert found.args == ["-r", "requirements-dev.txt", "pytest"]


def test_poetry_and_pdm_dev_dependencies(tmp_path):
    # tomlkit and pastel keep theirs in Poetry's table, dep-logic in PDM's
    found = plan(tmp_path, {"pyproject.toml": INSTALLABLE + "[tool.poetry.dependencies]\npython = '^3.8'\n"
                            "[tool.poetry.dev-dependencies]\npytest = '^7.2'\nPyYAML = {version = '^6.0', "
                            "extras = ['c']}\nlocal = {path = '../local'}\n"
                            "[tool.poetry.group.test.dependencies]\nfreezegun = '~1.2'\nmock = '*'\n"
                            "[tool.pdm.dev-dependencies]\ndev = ['hypothesis>=6', '-e file:///x#egg=x']\n"
                            "docs = ['sphinx']\n"})

    assert found.args == ["-e", ".", "pytest>=7.2,<8", "PyYAML[c]>=6.0,<7", "freezegun>=1.2,<1.3", "mock",
                          "hypothesis>=6"]
    assert found.declares_runner


@pytest.mark.parametrize("constraint, pep440", [
    ("^4.6.4", ">=4.6.4,<5"), ("^0.2.1", ">=0.2.1,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"), ("~1.2.3", ">=1.2.3,<1.3"),
    ("~1", ">=1,<2"), ("1.2.3", "==1.2.3"), (">=2, <3", ">=2,<3"), ("*", ""), ("^1 || ^2", ""),
])
def test_poetry_version_constraints(constraint, pep440):
    from agentos.repo.declared import poetry_version

    assert poetry_version(constraint) == pep440


def test_the_project_with_extras_among_tox_deps(tmp_path):
    found = plan(tmp_path, {"pyproject.toml": INSTALLABLE + "[project]\nname = 'x'\n",
                            "tox.ini": "[testenv]\nskip_install = true\ndeps =\n    -e .[tests]\n    {toxinidir}[dev]\n"
                                       "commands = pytest\n"})

    assert found.args == ["-e", ".[tests,dev]", "pytest"]
