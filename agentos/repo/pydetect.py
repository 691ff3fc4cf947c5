"""Which runner a Python project's tests use, from evidence in its files, and why.

A test command the project declares (tox, nox, hatch) wins; then pytest when anything shows
it (its configuration, a conftest.py, test files that import pytest or hold bare test
functions or plain `Test*` classes, pytest among the declared dependencies); unittest only
when test modules exist and nothing points to pytest.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from agentos.repo import declared, testenvs

PYTEST = "{python} -m pytest -q"
SKIP_DIRS = {"node_modules", "site-packages", "venv", "env", "build", "dist", "target", "__pycache__"}
MAX_READ_FILES = 300
MAX_READ_CHARS = 100_000

_IMPORTS_PYTEST = re.compile(r"^\s*(?:import pytest\b|from pytest\b|from _pytest\b)", re.M)
_BARE_TEST = re.compile(r"^(?:async\s+)?def test\w*\s*\(", re.M)
_PLAIN_CLASS = re.compile(r"^class Test\w*\s*(?:\(\s*(?:object)?\s*\))?\s*:", re.M)
_TESTCASE = re.compile(r"^class \w+\([^)]*TestCase\b", re.M)


@dataclass
class TestFiles:
    """What the test modules under a root show about their runner."""

    __test__ = False  # not a pytest test class

    modules: list[str] = field(default_factory=list)
    conftest: str | None = None
    pytest_signs: list[str] = field(default_factory=list)
    unittest_signs: list[str] = field(default_factory=list)


def is_test_module(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def walk_files(root: Path):
    """Relative paths of the files under `root`, skipping hidden, vendored and build folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            yield (Path(folder) / name).relative_to(root).as_posix()


def scan_test_files(root: Path) -> TestFiles:
    """The test modules and conftest.py files, read until one shows pytest (or enough were read)."""
    found = TestFiles()
    for rel in walk_files(root):
        name = rel.rsplit("/", 1)[-1]
        if name == "conftest.py" and found.conftest is None:
            found.conftest = rel
        if not is_test_module(name):
            continue
        found.modules.append(rel)
        if not found.pytest_signs and len(found.modules) <= MAX_READ_FILES:
            _read_signs(root / rel, rel, found)
    return found


def _read_signs(path: Path, rel: str, found: TestFiles) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:MAX_READ_CHARS]
    except OSError:
        return
    for pattern, sign in ((_IMPORTS_PYTEST, "imports pytest"), (_BARE_TEST, "has module-level test functions"),
                          (_PLAIN_CLASS, "has plain Test classes")):
        if pattern.search(text):
            found.pytest_signs.append(f"{rel} {sign}")
            return
    if _TESTCASE.search(text) and not found.unittest_signs:
        found.unittest_signs.append(f"{rel} defines unittest.TestCase classes")


def pytest_declared_in(root: Path, pyproject: dict) -> str | None:
    """Where the project lists pytest (or a pytest plugin) among its dependencies, if it does."""
    project = pyproject.get("project", {})
    for extra, deps in project.get("optional-dependencies", {}).items():
        if _names_pytest(deps):
            return f"[project.optional-dependencies] {extra} in pyproject.toml"
    for group in pyproject.get("dependency-groups", {}):
        if _names_pytest(declared.dependency_group(pyproject, group)):
            return f"[dependency-groups] {group} in pyproject.toml"
    for where, specs in declared.tool_test_dependencies(pyproject):
        if _names_pytest(specs):
            return f"{where} in pyproject.toml"
    for name in declared.requirement_files(root):
        if _names_pytest(declared.file_requirements(root, name)):
            return name
    for name in ("setup.cfg", "setup.py"):
        path = root / name
        if path.is_file() and re.search(r"""(?m)^\s*["']?pytest\b""", path.read_text(errors="replace")):
            return name
    return None


def _names_pytest(specs) -> bool:
    names = [declared.requirement_name(s) for s in specs if isinstance(s, str)]
    return any(n and (n == "pytest" or n.startswith("pytest-")) for n in names)


def detect_python(root: Path) -> tuple[str, str] | None:
    """(test command, the evidence in words) for a Python project; None when it has no tests."""
    pyproject = declared.read_pyproject(root, strict=False)
    files = scan_test_files(root)
    evidence = _pytest_evidence(root, pyproject, files)
    envs = testenvs.declared_envs(root, pyproject)
    if envs and envs[0].runner == "script" and evidence:
        envs = []  # a script beside pytest's evidence may do anything: pytest it is
    if envs:
        env = envs[0]
        said = f"{env.where} runs `{shlex.join(env.command)}`"
        more = evidence if env.runner == "pytest" else files.unittest_signs
        where = f" in {env.changedir}/" if env.changedir else ""
        return _declared_command(root, env), "; ".join([f"{env.runner}: {said}{where}", *more[:2]])
    if evidence:
        return PYTEST, "pytest: " + "; ".join(evidence[:3])
    if files.modules:
        why = files.unittest_signs or [f"test modules such as {files.modules[0]}"]
        return _unittest_command(root, files), f"unittest: {why[0]}, and nothing shows pytest"
    return None


def _pytest_evidence(root: Path, pyproject: dict, files: TestFiles) -> list[str]:
    where = declared.pytest_config(root, pyproject).where
    evidence = [where] if where else []
    if files.conftest:
        evidence.append(f"{files.conftest} (pytest's conftest)")
    evidence += files.pytest_signs
    if not evidence and (listed := pytest_declared_in(root, pyproject)):
        evidence.append(f"pytest is declared in {listed}")
    return evidence


def _declared_command(root: Path, env: testenvs.TestEnvDeclaration) -> str:
    if env.runner == "script":
        cd = f"cd {shlex.quote(env.changedir)} && " if env.changedir else ""
        return cd + "{python} " + shlex.join(env.command[1:])
    args = testenvs.runner_args(env.command)
    if env.runner == "unittest":
        if not args or args[0] == "discover":
            args = ["discover", "-v", *[a for a in args[1:] if a != "-v"]]
        return "{python} -m unittest " + shlex.join(args)
    return " ".join([PYTEST, *map(shlex.quote, pytest_args(root, args))])


# Options of a declared pytest command left out here: coverage (its files would land in the
# worktree), output and stop-early settings (the stage reads every result), per-run paths.
_DROPPED = ("--cov", "--no-cov", "--basetemp", "--junit", "--numprocesses", "--maxfail", "--color", "--durations",
            "--exitfirst", "--verbose", "--quiet", "--verbosity", "--lf", "--ff", "--last-failed", "--failed-first",
            "--sw", "--stepwise", "--pdb", "--html", "--result-log")
_DROPPED_EXACT = {"-n", "-x", "-v", "-vv", "-vvv", "-q", "-qq", "-s"}
_WITH_VALUE = {"--cov", "--cov-report", "--cov-config", "--cov-fail-under", "--basetemp", "--junitxml",
               "--junit-xml", "-n", "--numprocesses", "--maxfail", "--color", "--durations", "-m", "-k", "-p", "-c",
               "-o", "-W", "--rootdir", "--ignore", "--ignore-glob", "--deselect", "--import-mode",
               "--doctest-glob", "--tb", "--confcutdir", "--html"}


def pytest_args(root: Path, args: list[str]) -> list[str]:
    """The arguments of a declared pytest command worth keeping: its options but the dropped
    ones, and its paths (those that exist, also under src/)."""
    kept: list[str] = []
    i = 0
    while i < len(args):
        arg, name = args[i], args[i].split("=", 1)[0]
        takes = "=" not in arg and name in _WITH_VALUE and i + 1 < len(args) and not (
            name == "--cov" and args[i + 1].startswith("-"))
        words, i = args[i:i + 1 + takes], i + 1 + takes
        if name in _DROPPED_EXACT or name.startswith(_DROPPED):
            continue
        if arg.startswith("-"):
            kept += words
        elif path := _existing(root, arg):
            kept.append(path)
    return kept


def _existing(root: Path, arg: str) -> str | None:
    path, _, rest = arg.partition("::")
    path = os.path.normpath(path)
    for candidate in (path, f"src/{path}"):
        if (root / candidate).exists():
            return candidate + (f"::{rest}" if rest else "")
    return None


def _unittest_command(root: Path, files: TestFiles) -> str:
    if (root / "tests").is_dir():
        return "{python} -m unittest discover -v -s tests -t ."
    if all(m.startswith("src/") for m in files.modules) and (root / "src").is_dir():
        return "{python} -m unittest discover -v -s src -t src"
    return "{python} -m unittest discover -v"
