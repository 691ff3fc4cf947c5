"""What a Python project declares about its tests, read from its own files.

Where pytest is configured (and the oldest pytest it accepts), the test commands and
dependencies of its tox, nox and hatch environments, its test extras, PEP 735 dependency
groups and requirement files. testcmd picks the runner from this evidence; the implementation
stage's test environment installs what it lists, as the project's developers would.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agentos.errors import TestCommandError

SETUP_KEY = "orchestrator.stages.implementation.setup_command"
TEST_EXTRAS = ("test", "tests", "testing", "dev")
RUNNERS = {"pytest": "pytest", "py.test": "pytest", "unittest": "unittest"}


@dataclass
class TestEnvDeclaration:
    """A test environment the project declares (tox, nox, hatch): its command and what it installs."""

    __test__ = False  # not a pytest test class

    where: str
    """Where it is declared, for people: "tox.ini [testenv]"."""
    command: list[str] = field(default_factory=list)
    """The command that runs the tests, as argv, with the tool's placeholders resolved."""
    changedir: str | None = None
    """Where the command runs, relative to the root, when not there (tox's `changedir`)."""
    requirements: list[str] = field(default_factory=list)
    """Install arguments: requirement specifiers and `-r FILE` / `-c FILE` pairs."""
    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def runner(self) -> str | None:
        """"pytest" or "unittest" when the command runs one of them, else None."""
        return runner_of(self.command)


def runner_of(argv: list[str]) -> str | None:
    """The Python test runner an argv runs (`pytest …`, `python -m pytest …`, `coverage run -m pytest`),
    or "script" for a project's own runner script (`python runtests.py`, as Django has)."""
    for i, word in enumerate(argv):
        name = Path(word).name
        if name in RUNNERS and i == 0:
            return RUNNERS[name]
        if word == "-m" and i + 1 < len(argv) and argv[i + 1] in RUNNERS:
            return RUNNERS[argv[i + 1]]
    if len(argv) > 1 and re.fullmatch(r"python[\d.]*", Path(argv[0]).name) and argv[1].endswith(".py") \
            and Path(argv[1]).name != "setup.py":
        return "script"
    return None


def runner_args(argv: list[str]) -> list[str]:
    """The arguments after the runner in `argv` (`coverage run -m pytest -x tests` -> [-x, tests])."""
    for i, word in enumerate(argv):
        if Path(word).name in RUNNERS and (i == 0 or argv[i - 1] == "-m"):
            return argv[i + 1:]
    return []


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


# --- tox ----------------------------------------------------------------------------------


def tox_envs(root: Path, pyproject: dict) -> list[TestEnvDeclaration]:
    """The tox environments that run a test runner, `[testenv]` first."""
    tox = pyproject.get("tool", {}).get("tox", {})
    if isinstance(tox.get("env_run_base"), dict):
        return _tox_toml(tox["env_run_base"], "pyproject.toml [tool.tox.env_run_base]")
    toml_file = root / "tox.toml"
    if toml_file.is_file():
        try:
            base = tomllib.loads(toml_file.read_text(encoding="utf-8")).get("env_run_base", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            base = {}
        return _tox_toml(base, "tox.toml [env_run_base]")
    for name, ini, prefix in _tox_inis(root, tox):
        envs = [_tox_ini_env(ini, section, f"{name} [{section}]") for section in _tox_sections(ini, prefix)]
        return sorted((env for env in envs if env.runner), key=lambda env: env.runner == "script")
    return []


def _tox_inis(root: Path, tox: dict):
    ini = read_ini(root / "tox.ini")
    if ini is not None:
        yield "tox.ini", ini, "testenv"
    cfg = read_ini(root / "setup.cfg")
    if cfg is not None and cfg.has_section("tox:tox"):
        yield "setup.cfg", cfg, "testenv"
    if isinstance(tox.get("legacy_tox_ini"), str):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(tox["legacy_tox_ini"])
            yield "pyproject.toml legacy_tox_ini", parser, "testenv"
        except configparser.Error:
            pass


def _tox_sections(ini: configparser.ConfigParser, prefix: str) -> list[str]:
    """`[testenv]` first, then named envs: test-like names (py311, tests) before the rest, and
    those for benchmarks, docs, linting or coverage reports last."""
    named = [s for s in ini.sections() if s.startswith(f"{prefix}:")]

    def rank(section: str) -> int:
        name = section.split(":", 1)[1]
        if re.search(r"bench|doc|lint|type|mypy|flake|format|style|cov|release|build|pre-?commit", name):
            return 2
        return 0 if re.search(r"test|py", name) else 1

    return ([prefix] if ini.has_section(prefix) else []) + sorted(named, key=rank)


def _tox_ini_env(ini: configparser.ConfigParser, section: str, where: str) -> TestEnvDeclaration:
    def value(key: str) -> str:
        own = ini.get(section, key, fallback=None)
        text = own if own is not None else ini.get("testenv", key, fallback="") if ini.has_section("testenv") else ""
        return _tox_refs(ini, text)

    command = _test_command([_tox_argv(line) for line in _tox_lines(value("commands"))])
    changedir = os.path.normpath(_tox_placeholders(value("changedir"))) if value("changedir").strip() else None
    deps = [_tox_placeholders(d) for d in _tox_lines(value("deps"))]
    return TestEnvDeclaration(where, command, changedir if changedir != "." else None, requirements=_pip_args(deps),
                              extras=[*_words(value("extras")), *_self_extras(deps)],
                              groups=_words(value("dependency_groups")))


_SELF = re.compile(r"(?:-e\s*)?\./?(?:\[([\w,\s-]+)\])?")
"""The project itself among dependencies: `.`, `-e .[test]`, `{toxinidir}[dev]` (as `./[dev]`)."""


def _self_extras(deps: list[str]) -> list[str]:
    found = [_SELF.fullmatch(d.strip()) for d in deps]
    return [e.strip() for m in found if m and m.group(1) for e in m.group(1).split(",")]


def _tox_toml(base: dict, where: str) -> list[TestEnvDeclaration]:
    commands = [[w for w in (_tox_placeholders(w) for w in argv if isinstance(w, str)) if w]
                for argv in base.get("commands", []) if isinstance(argv, list)]
    command = _test_command(commands)
    deps = [_tox_placeholders(d) for d in base.get("deps", []) if isinstance(d, str)]
    env = TestEnvDeclaration(where, command, requirements=_pip_args(deps), extras=list(base.get("extras", [])),
                             groups=list(base.get("dependency_groups", [])))
    return [env] if env.runner else []


def _test_command(commands: list[list[str]]) -> list[str]:
    """The command among `commands` that runs pytest or unittest, else one that runs a script."""
    known = [argv for argv in commands if runner_of(argv) in RUNNERS.values()]
    return next(iter(known), None) or next((argv for argv in commands if runner_of(argv)), [])


def _tox_refs(ini: configparser.ConfigParser, text: str) -> str:
    """`{[section]key}` references replaced by that value (one level, as most projects use them)."""
    return re.sub(r"\{\[([^\]]+)\]([\w-]+)\}", lambda m: ini.get(m.group(1), m.group(2), fallback=""), text)


def _tox_lines(text: str) -> list[str]:
    """Unconditional lines of a multi-line tox value (factor-conditional ones are skipped)."""
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.split(" #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not re.match(r"^[\w{},.!-]+:\s", line)]


def _tox_placeholders(text: str) -> str:
    """tox's substitutions that have a meaning here; the package in site-packages is the one
    in the tree (the project is installed editable)."""
    text = re.sub(r"\{posargs:?([^}]*)\}", r"\1", text)
    text = re.sub(r"\{env:[^:}]+:([^}]*)\}", r"\1", text)  # an environment variable's default
    text = re.sub(r"\{(?:tox_?root|toxinidir|env_?site_?packages_?dir)\}/?", "./", text)
    return re.sub(r"\{env_?python\}", "python", text)


def _tox_argv(line: str) -> list[str]:
    """A tox command line as argv: the part that runs the tests (`cd .tox && pytest …`), its
    placeholders resolved, words with unknown ones (`--basetemp={envtmpdir}`) left out."""
    line = re.sub(r"\{(?:posargs|env:[^:}]+):?([^}]*)\}", r"\1", line.lstrip("-").strip())
    try:
        words = shlex.split(line)
    except ValueError:
        return []
    segments, current = [], []
    for word in words:
        if word in ("&&", "||", ";"):
            segments.append(current)
            current = []
        else:
            current.append(word)
    segments.append(current)
    chosen = next((seg for seg in segments if runner_of([_tox_placeholders(w) for w in seg])), segments[-1])
    resolved = [_tox_placeholders(w) for w in chosen]
    return [w for w in resolved if w and "{" not in w]


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", text) if w and "{" not in w and ":" not in w]


def _pip_args(lines: list[str]) -> list[str]:
    """Install arguments from dependency lines: `-rfile`/`-r file` become two words; `-e .` is dropped."""
    args: list[str] = []
    for line in lines:
        option = re.match(r"^(-[rc]|--requirement|--constraint)[= ]?\s*(\S+)$", line)
        if option:
            flag = "-c" if option.group(1) in ("-c", "--constraint") else "-r"
            args += [flag, option.group(2).removeprefix("./")]
        elif not line.startswith("-") and "{" not in line and not _SELF.fullmatch(line):
            args.append(line)
    return args


# --- nox and hatch --------------------------------------------------------------------------


def nox_sessions(root: Path) -> list[TestEnvDeclaration]:
    """The noxfile.py sessions that run a test runner, sessions named like tests first."""
    path = root / "noxfile.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (SyntaxError, UnicodeDecodeError, ValueError):
        tree = None
    if tree is None:
        return []
    constants = _string_constants(tree)
    found = [_nox_session(fn, constants) for fn in tree.body
             if isinstance(fn, ast.FunctionDef) and any("session" in ast.unparse(d) for d in fn.decorator_list)]
    found = [s for s in found if s.runner]
    return sorted(found, key=lambda s: 0 if "test" in s.where else 1)


def _string_constants(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level names bound to a string or a list/tuple of strings."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values = _strings(node.value, {})
            if values is not None:
                found[node.targets[0].id] = values
    return found


def _strings(node: ast.expr, constants: dict[str, list[str]]) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Starred):
        return _strings(node.value, constants)
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_strings(e, constants) for e in node.elts]
        return None if any(p is None for p in parts) else [s for p in parts for s in p]
    return None


def _nox_session(fn: ast.FunctionDef, constants: dict[str, list[str]]) -> TestEnvDeclaration:
    env = TestEnvDeclaration(f"noxfile.py session {fn.name}")
    for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
        words = [w for arg in call.args for w in (_strings(arg, constants) or [])]
        if call.func.attr == "run" and not env.command and runner_of(words):
            env.command = words
        elif call.func.attr == "install":
            _nox_install(env, words)
        elif call.func.attr == "dependency_groups":
            env.groups += [w for w in words if not w.endswith(".toml")]
    return env


def _nox_install(env: TestEnvDeclaration, words: list[str]) -> None:
    words = [w for w in words if w != "-e"]
    for i, word in enumerate(words):
        extras = re.fullmatch(r"\.\[([\w,\s-]+)\]", word)
        if extras:
            env.extras += [e.strip() for e in extras.group(1).split(",")]
        elif word == "--group" and i + 1 < len(words):
            env.groups.append(words[i + 1])
        elif word in ("-r", "-c") and i + 1 < len(words):
            env.requirements += [word, words[i + 1]]
        elif not word.startswith("-") and word != "." and words[i - 1:i] not in (["-r"], ["-c"], ["--group"]):
            env.requirements.append(word)


def hatch_envs(pyproject: dict) -> list[TestEnvDeclaration]:
    """The hatch environments whose scripts run a test runner, plus hatch's own `hatch-test`."""
    envs = pyproject.get("tool", {}).get("hatch", {}).get("envs", {})
    default = envs.get("default", {}) if isinstance(envs.get("default"), dict) else {}
    found = []
    for name, env in envs.items():
        if not isinstance(env, dict):
            continue
        inherited = [] if name == "default" or env.get("template") == "none" else default.get("dependencies", [])
        deps = [*inherited, *env.get("dependencies", []), *env.get("extra-dependencies", [])]
        extras = list(env.get("features", []))
        for key, script in env.get("scripts", {}).items():
            argv = _hatch_argv(script)
            if runner_of(argv):
                found.append(TestEnvDeclaration(f"pyproject.toml [tool.hatch.envs.{name}.scripts] {key}", argv,
                                                requirements=list(deps), extras=extras))
                break
        else:
            if name == "hatch-test":
                found.append(TestEnvDeclaration("pyproject.toml [tool.hatch.envs.hatch-test]", ["pytest"],
                                                requirements=["pytest", *deps], extras=extras))
    return found


def _hatch_argv(script) -> list[str]:
    line = script[-1] if isinstance(script, list) and script else script
    if not isinstance(line, str):
        return []
    line = re.sub(r"\{args:?([^}]*)\}", r"\1", line)
    try:
        return [] if "{" in line else shlex.split(line)
    except ValueError:
        return []


def declared_envs(root: Path, pyproject: dict) -> list[TestEnvDeclaration]:
    """Every declared test environment: tox's, then nox's, then hatch's."""
    return [*tox_envs(root, pyproject), *nox_sessions(root), *hatch_envs(pyproject)]
