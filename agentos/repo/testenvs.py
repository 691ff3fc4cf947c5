"""The test environments a Python project declares: tox's, nox's and hatch's.

For each, the command that runs the tests (tox's placeholders resolved, a `cd … &&` prefix and
per-run words left out) and what it installs: requirements, `-r` files, the project's extras,
dependency groups.
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

from agentos.repo.declared import read_ini

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
