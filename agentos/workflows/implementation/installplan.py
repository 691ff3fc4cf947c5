"""What to install for a Python project's tests, from what the project itself declares.

The project (editable, with its test extras) when it can be built, else its dependencies; its
test dependency groups (PEP 735, include-group expanded); its requirement files; what its tox,
nox or hatch test environment installs; and pytest when the tests need it and the project does
not declare it, at a version the project accepts (its `minversion`). After a run that could
not collect the tests, the pytest that could (e.g. "pytest<9") wins over any the project asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agentos.repo import declared, testenvs


@dataclass
class InstallPlan:
    """Install arguments (for `uv pip install` and `pip install` alike) and where they come from."""

    args: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """What the arguments were read from, for people."""
    runner: str | None = None
    """The runner agentos adds because the project does not declare it, e.g. "pytest>=6.0"."""
    minversion: str | None = None
    """The oldest pytest the project's configuration accepts."""
    declares_runner: bool = False
    """Whether the project names pytest among what it installs for its tests."""
    override: str | None = None
    """A pytest that wins over the project's own pin (uv's --override; pip installs it last)."""

    def add(self, args: list[str], source: str) -> None:
        if args:
            self.args += args
            self.sources.append(source)


def plan_install(root: Path, runs_pytest: bool, runner: str | None = None) -> InstallPlan:
    """What to install for the tests of the project at `root`; `runner` (e.g. "pytest<9", or
    "pytest" for the newest) is the pytest to use whatever the project asks for."""
    pyproject = declared.read_pyproject(root)
    plan = InstallPlan()
    envs = testenvs.declared_envs(root, pyproject)
    env = envs[0] if envs else None
    extras = list(dict.fromkeys([*declared.extras_for_tests(root, pyproject), *(env.extras if env else [])]))
    specs = _project(root, pyproject, extras, plan)
    groups = list(dict.fromkeys([*declared.groups_for_tests(pyproject), *(env.groups if env else [])]))
    for group in groups:
        found = declared.dependency_group(pyproject, group)
        plan.add(found, f"dependency group {group}")
        specs += found
    for where, found in declared.tool_test_dependencies(pyproject):
        plan.add(found, where)
        specs += found
    files = declared.requirement_files(root)
    for name in files:
        plan.add(["-r", name], name)
        specs += declared.file_requirements(root, name)
    if env:
        extra = _new_args(env.requirements, files)
        plan.add(extra, f"{env.where} deps")
        specs += [a for a in extra if not a.startswith("-")]
        specs += [s for i, a in enumerate(extra[1:]) if extra[i] == "-r" for s in declared.file_requirements(root, a)]
    if runs_pytest:
        _add_runner(root, pyproject, specs, runner, plan)
    return plan


# Options and settings of pytest's configuration that belong to a plugin, and the plugin.
PLUGIN_OPTIONS = {"--cov": "pytest-cov", "--no-cov": "pytest-cov", "-n": "pytest-xdist", "--numprocesses": "pytest-xdist",
                  "--dist": "pytest-xdist", "--timeout": "pytest-timeout", "--reruns": "pytest-rerunfailures",
                  "--benchmark": "pytest-benchmark", "--asyncio-mode": "pytest-asyncio", "--ds": "pytest-django",
                  "--doctest-plus": "pytest-doctestplus", "--mypy": "pytest-mypy", "--html": "pytest-html"}
PLUGIN_KEYS = {"asyncio_mode": "pytest-asyncio", "timeout": "pytest-timeout", "django_settings_module": "pytest-django",
               "env": "pytest-env", "mock_use_standalone_module": "pytest-mock"}


def _plugins_used(config: declared.PytestConfig) -> list[str]:
    """The plugins pytest's configuration needs: its `required_plugins`, and those whose options
    (`--cov` in addopts) or settings (`asyncio_mode`) it uses."""
    found = list(config.required_plugins)
    for option in config.addopts:
        name = option.split("=", 1)[0]
        found += [plugin for prefix, plugin in PLUGIN_OPTIONS.items() if name == prefix or
                  (prefix.startswith("--") and name.startswith(prefix + "-"))]
    found += [plugin for key, plugin in PLUGIN_KEYS.items() if key in (k.lower() for k in config.keys)]
    return list(dict.fromkeys(found))


def _project(root: Path, pyproject: dict, extras: list[str], plan: InstallPlan) -> list[str]:
    """Install the project itself (editable) when it can be built, else its declared dependencies."""
    project = pyproject.get("project", {})
    optional = project.get("optional-dependencies", {})
    specs = [*project.get("dependencies", []), *(d for name in extras for d in optional.get(name, []))]
    if "build-system" in pyproject or (root / "setup.py").is_file():
        target = "." + (f"[{','.join(extras)}]" if extras else "")
        plan.add(["-e", target], f"the project, editable{' with extras ' + ', '.join(extras) if extras else ''}")
    else:
        plan.add(list(specs), "[project] dependencies")
    return specs


def _new_args(args: list[str], files: list[str]) -> list[str]:
    """`args` without `-r FILE` pairs for files already installed."""
    kept: list[str] = []
    for i, arg in enumerate(args):
        if (arg == "-r" and args[i + 1:i + 2] and args[i + 1] in files) or (i and args[i - 1] == "-r" and arg in files):
            continue
        kept.append(arg)
    return kept


def _add_runner(root: Path, pyproject: dict, specs: list[str], runner: str | None, plan: InstallPlan) -> None:
    """The plugins pytest's configuration needs; pytest itself unless the project names it, at
    least its `minversion`; `runner`'s bound over whatever the project asks."""
    config = declared.pytest_config(root, pyproject)
    plan.minversion = minversion = config.minversion
    names = {declared.requirement_name(s) for s in specs}
    plugins = [p for p in _plugins_used(config) if declared.requirement_name(p) not in names]
    plan.add(plugins, f"pytest plugins that {config.where} uses")
    floor = f">={minversion}" if minversion and re.fullmatch(r"[\d.]+", minversion) else ""
    spec = "pytest" + ",".join(b for b in (floor, (runner or "").removeprefix("pytest")) if b)
    plan.declares_runner = "pytest" in names
    if plan.declares_runner:
        plan.override = spec if runner else None
        return
    plan.runner = spec
    plan.add([spec], "the test runner, which the project does not declare")
