"""What a Python project declares about its tests, read from its own files.

Where pytest is configured (the oldest pytest it accepts, the options and plugins it uses), its
test extras, PEP 735 dependency groups, the test dependencies in Poetry's, PDM's and uv's own
tables, and its requirement files. (Its tox, nox and hatch environments: see testenvs.) pydetect
picks the runner from this evidence; the implementation stage's test environment installs what
it lists, as the project's developers would.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agentos.errors import TestCommandError

SETUP_KEY = "orchestrator.stages.implementation.setup_command"
TEST_EXTRAS = ("test", "tests", "testing", "dev")


# --- pyproject.toml and pytest's configuration ---------------------------------------------


def read_pyproject(root: Path, strict: bool = True) -> dict:
    """pyproject.toml as a dict ({} when absent); invalid TOML raises only when `strict`."""
    path = root / "pyproject.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        if not strict:
            return {}
        raise TestCommandError(f"{path} is not valid TOML: {exc}",
                               f"fix it, or set {SETUP_KEY} to prepare the tests another way") from None


def read_ini(path: Path) -> configparser.ConfigParser | None:
    """An ini file (tox.ini, setup.cfg, pytest.ini) read leniently; None when absent or unreadable."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        return parser if path.is_file() and parser.read(path, encoding="utf-8") else None
    except (configparser.Error, UnicodeDecodeError):
        return None


@dataclass
class PytestConfig:
    """Where pytest is configured, and what of it matters for setting up the environment."""

    where: str | None = None
    minversion: str | None = None
    addopts: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    """The configuration's option names (`asyncio_mode`, `timeout`, …): some belong to plugins."""
    required_plugins: list[str] = field(default_factory=list)


def pytest_config(root: Path, pyproject: dict) -> PytestConfig:
    """pytest's configuration, looked up in pytest's own order: pytest.ini, pyproject.toml,
    tox.ini, setup.cfg; an empty PytestConfig when there is none."""
    if (root / "pytest.ini").is_file():
        ini = read_ini(root / "pytest.ini")
        return _ini_config("pytest.ini", ini, "pytest")
    tool = pyproject.get("tool", {}).get("pytest")
    if isinstance(tool, dict):
        table = tool.get("ini_options", tool)
        key = "[tool.pytest.ini_options]" if "ini_options" in tool else "[tool.pytest]"
        addopts, plugins = table.get("addopts", []), table.get("required_plugins", [])
        return PytestConfig(f"{key} in pyproject.toml", _text(table.get("minversion")),
                            shlex.split(addopts) if isinstance(addopts, str) else list(addopts), list(table),
                            plugins.split() if isinstance(plugins, str) else list(plugins))
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        ini = read_ini(root / name)
        if ini is not None and ini.has_section(section):
            return _ini_config(f"[{section}] in {name}", ini, section)
    return PytestConfig()


def _ini_config(where: str, ini: configparser.ConfigParser | None, section: str) -> PytestConfig:
    if ini is None or not ini.has_section(section):
        return PytestConfig(where)
    get = lambda key: ini.get(section, key, fallback="")  # noqa: E731
    try:
        addopts = shlex.split(get("addopts"))
    except ValueError:
        addopts = get("addopts").split()
    return PytestConfig(where, get("minversion") or None, addopts, ini.options(section), get("required_plugins").split())


def _text(value) -> str | None:
    return str(value) if value not in (None, "") else None


# --- extras, dependency groups, requirement files -------------------------------------------


def extras_for_tests(root: Path, pyproject: dict) -> list[str]:
    """The project's extras named like test extras (test, tests, testing, dev)."""
    names = set(pyproject.get("project", {}).get("optional-dependencies", {}))
    cfg = read_ini(root / "setup.cfg")
    if cfg is not None and cfg.has_section("options.extras_require"):
        names |= set(cfg.options("options.extras_require"))
    setup_py = root / "setup.py"
    if setup_py.is_file():
        text = setup_py.read_text(encoding="utf-8", errors="replace")
        if "extras_require" in text:
            names |= set(re.findall(r"""["'](\w+)["']\s*:""", text)) & set(TEST_EXTRAS)
    return [name for name in TEST_EXTRAS if name in names]


def dependency_group(pyproject: dict, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """A PEP 735 dependency group's requirements, its `include-group`s expanded."""
    groups = pyproject.get("dependency-groups", {})
    if name in seen or not isinstance(groups.get(name), list):
        return []
    found: list[str] = []
    for entry in groups[name]:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            found += dependency_group(pyproject, entry["include-group"], seen | {name})
    return found


def groups_for_tests(pyproject: dict) -> list[str]:
    """The PEP 735 dependency groups named like test groups (test, tests, testing, dev)."""
    return [name for name in TEST_EXTRAS if name in pyproject.get("dependency-groups", {})]


def tool_test_dependencies(pyproject: dict) -> list[tuple[str, list[str]]]:
    """Test dependencies kept in build tools' own tables, as requirement specifiers, with where:
    uv's `dev-dependencies`, Poetry's `dev-dependencies` and test/dev groups, PDM's."""
    tool = pyproject.get("tool", {})
    found = [("[tool.uv] dev-dependencies", _strs(tool.get("uv", {}).get("dev-dependencies")))]
    poetry = tool.get("poetry", {})
    found.append(("[tool.poetry.dev-dependencies]", _poetry_specs(poetry.get("dev-dependencies"))))
    for name in TEST_EXTRAS:
        group = poetry.get("group", {}).get(name, {})
        found.append((f"[tool.poetry.group.{name}]", _poetry_specs(group.get("dependencies"))))
        pdm = tool.get("pdm", {}).get("dev-dependencies", {})
        found.append((f"[tool.pdm.dev-dependencies] {name}", [d for d in _strs(pdm.get(name)) if not d.startswith("-")]))
    return [(where, specs) for where, specs in found if specs]


def _strs(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _poetry_specs(table) -> list[str]:
    """Poetry's `name = "^1.2"` entries as PEP 508 specifiers (path, git and url entries left out)."""
    specs = []
    for name, value in (table or {}).items() if isinstance(table, dict) else ():
        if name.lower() == "python" or (isinstance(value, dict) and {"path", "git", "url"} & set(value)):
            continue
        version = value.get("version", "*") if isinstance(value, dict) else value
        extras = value.get("extras", []) if isinstance(value, dict) else []
        specs.append(name + (f"[{','.join(extras)}]" if extras else "") + poetry_version(str(version)))
    return specs


def poetry_version(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 one: ^1.2 -> >=1.2,<2; ~1.2 -> >=1.2,<1.3; 1.2 -> ==1.2."""
    if "||" in constraint:
        return ""  # alternatives have no PEP 440 spelling: any version
    parts = []
    for part in (p.strip() for p in constraint.split(",")):
        if part in ("", "*"):
            continue
        if part[0] in "^~" and part[:2] != "~=":
            numbers = [int(n) for n in re.findall(r"\d+", part)[:3]] or [0]
            parts.append(f">={part[1:].strip()},<{_upper(numbers, caret=part[0] == '^')}")
        else:
            parts.append(("==" if part[0].isdigit() else "") + part.replace(" ", ""))
    return ",".join(parts)


def _upper(numbers: list[int], caret: bool) -> str:
    if caret:
        first = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
    else:
        first = min(1, len(numbers) - 1)
    return ".".join(map(str, [*numbers[:first], numbers[first] + 1]))


def requirement_files(root: Path) -> list[str]:
    """Requirement files a developer installs for the tests (not the docs' ones), relative to `root`."""
    found = sorted(root.glob("*requirements*.txt")) + sorted((root / "requirements").glob("*.txt"))
    found += sorted((root / "tests").glob("requirements*.txt"))
    return [p.relative_to(root).as_posix() for p in found if p.is_file() and "doc" not in p.name.lower()]


def requirement_name(spec: str) -> str | None:
    """The normalised project name a requirement specifier names (None for options and paths)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[|[<>=!~;@ ]|$)", spec)
    if spec.lstrip().startswith("-") or not match:
        return None
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def file_requirements(root: Path, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirement specifiers in a requirements file, following its `-r` includes."""
    path = root / name
    if name in seen or not path.is_file():
        return []
    specs: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(" #")[0].strip()
        included = re.match(r"-r\s*(\S+)|--requirement[= ]\s*(\S+)", line)
        if included:
            other = (path.parent / (included.group(1) or included.group(2))).relative_to(root).as_posix()
            specs += file_requirements(root, other, seen | {name})
        elif line and not line.startswith("#"):
            specs.append(line)
    return specs
