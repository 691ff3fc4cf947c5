"""The layers point one way (docs/architecture.md): no module imports from a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import agentos

PACKAGE = Path(agentos.__file__).parent

LAYERS = [
    ["cli"],
    ["web"],
    ["commands", "demo", "batch"],
    ["workflows.orchestrator"],
    ["workflows"],
    ["forge"],
    ["config"],
    ["llm"],
    ["progress", "repo", "runs", "runlock", "paths", "state", "readmodel"],
    ["markdown", "process", "sandbox", "files", "redact", "errors"],
]
"""Top to bottom, as drawn in docs/architecture.md."""


def layer_of(module: str) -> int:
    """The index in LAYERS of the longest prefix that names `module`'s package."""
    name = module.removeprefix("agentos.")
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best[0]


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0]
    found += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return [m for m in found if m.startswith("agentos.")]


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        if module == "agentos":
            continue
        own = layer_of(module)
        upward += [f"{module} → {target}" for target in imports(path) if layer_of(target) < own]
    assert upward == []


def test_the_model_layer_knows_no_config_workflow_or_forge():
    for path in sorted((PACKAGE / "llm").glob("*.py")):
        banned = [m for m in imports(path) if m.split(".")[1] in ("config", "workflows", "forge", "cli", "commands")]
        assert banned == [], path.name


def test_one_process_runner_and_one_git_runner():
    """Child processes start in agentos/process.py (bounded, whole group ended) or, for git, in
    agentos/repo/git.py; nowhere else imports subprocess or names the git binary in an argv."""
    runners = {PACKAGE / "process.py", PACKAGE / "repo" / "git.py"}
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in runners:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "subprocess" for a in node.names):
                elsewhere.append(f"{path.name} imports subprocess")
            if isinstance(node, ast.ImportFrom) and node.module == "subprocess" and not _type_only(tree, node):
                elsewhere.append(f"{path.name} imports from subprocess")
            if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant) \
                    and node.elts[0].value == "git":
                elsewhere.append(f"{path.name}:{node.lineno} runs git itself")
    assert elsewhere == []


def _type_only(tree: ast.Module, node: ast.ImportFrom) -> bool:
    """Whether the import sits under `if TYPE_CHECKING:` (a type annotation, no process)."""
    return any(isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING" and node in n.body
               for n in ast.walk(tree))
