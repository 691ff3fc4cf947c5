"""Repository context for prompts: a map of files and their top-level symbols, plus the files
most relevant to the issue, cut to a token budget.

The files sent whole are first those the issue names, or that define a symbol it names
(agentos.repo.symbols), then the best of a BM25 ranking over paths, symbols and contents.

Symbols come from Python's `ast` and, for JavaScript, TypeScript and Go, from tree-sitter
grammar wheels (which bundle their grammars, so this works offline). What is parsed is cached
per git blob under .agentos/cache/, so a warm run only parses files that changed.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from agentos.files import write_atomic
from agentos.markdown.escape import fenced
from agentos.repo.git import Git
from agentos.repo.symbols import claim, definitions, focused

CACHE_VERSION = 1
MAX_FILE_BYTES = 256_000
TERMS_FROM_CONTENT = 4_000  # characters of each file that feed relevance ranking
BINARY_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".tar", ".whl", ".so",
    ".dylib", ".dll", ".exe", ".bin", ".woff", ".woff2", ".ttf", ".mp4", ".mp3", ".db", ".sqlite",
}
WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[0-9]+")
STOP = {"the", "and", "for", "with", "that", "this", "from", "import", "return", "def", "self", "none"}


@dataclass
class FileEntry:
    path: str
    blob: str
    symbols: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)


def terms_of(text: str) -> list[str]:
    """Lower-case words, with identifiers split at snake_case and camelCase boundaries."""
    return [w.lower() for w in WORD.findall(text) if len(w) > 1 and w.lower() not in STOP]


def language_of(path: str) -> str | None:
    return {".py": "python", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
            ".ts": "typescript", ".tsx": "tsx", ".go": "go"}.get(os.path.splitext(path)[1])


# -- symbols ---------------------------------------------------------------------------------

def python_symbols(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(f"def {node.name}({', '.join(a.arg for a in node.args.args)})")
        elif isinstance(node, ast.ClassDef):
            methods = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            out.append(f"class {node.name}" + (f": {', '.join(methods)}" if methods else ""))
    return out


_PARSERS: dict[str, object] = {}


def _parser(language: str):
    if language not in _PARSERS:
        from tree_sitter import Language, Parser

        if language == "javascript":
            import tree_sitter_javascript as grammar

            lang = grammar.language()
        elif language == "go":
            import tree_sitter_go as grammar

            lang = grammar.language()
        else:
            import tree_sitter_typescript as grammar

            lang = grammar.language_tsx() if language == "tsx" else grammar.language_typescript()
        _PARSERS[language] = Parser(Language(lang))
    return _PARSERS[language]


def tree_sitter_symbols(source: bytes, language: str) -> list[str]:
    root = _parser(language).parse(source).root_node
    out: list[str] = []
    for node in root.children:
        out += _declared(node, source)
    if language == "go":  # same node type as JavaScript's, Go's own keyword
        out = [s.replace("function ", "func ", 1) for s in out]
    return out


def _name(node, source: bytes) -> str:
    named = node.child_by_field_name("name")
    return source[named.start_byte : named.end_byte].decode(errors="replace") if named else ""


def _declared(node, source: bytes) -> list[str]:
    kind = node.type
    if kind == "export_statement":
        inner = node.child_by_field_name("declaration")
        return _declared(inner, source) if inner is not None else []
    if kind in ("function_declaration", "generator_function_declaration"):
        return [f"function {_name(node, source)}"]
    if kind == "method_declaration":  # Go methods
        return [f"func {_name(node, source)}"]
    if kind in ("class_declaration", "interface_declaration", "type_alias_declaration"):
        body = node.child_by_field_name("body")
        methods = [_name(c, source) for c in (body.children if body else []) if c.type == "method_definition"]
        head = f"{kind.split('_')[0]} {_name(node, source)}"
        return [head + (f": {', '.join(methods)}" if methods else "")]
    if kind in ("lexical_declaration", "variable_declaration"):
        return [f"const {_name(c, source)}" for c in node.children if c.type == "variable_declarator"]
    if kind == "type_declaration":  # Go
        return [f"type {_name(c, source)}" for c in node.children if c.type == "type_spec"]
    return []


def symbols_of(path: str, data: bytes) -> list[str]:
    language = language_of(path)
    if language == "python":
        return python_symbols(data.decode("utf-8", errors="replace"))
    if language is not None:
        try:
            return tree_sitter_symbols(data, language)
        except Exception:  # noqa: BLE001 - a grammar hiccup must not cost the whole map
            return []
    return []


def symbol_names(entries: list[FileEntry]) -> set[str]:
    """Bare names of every symbol (functions, classes, methods, types)."""
    return {name for entry in entries for name in definitions(entry.symbols) if "." not in name}


# -- index -----------------------------------------------------------------------------------

def tracked_files(root: Path) -> list[tuple[str, str]]:
    """(path, blob sha) of every file git tracks in the working tree at root."""
    out = []
    for record in Git(root).call("ls-files", "-s", "-z", check=True).stdout.split("\0"):
        if record:
            meta, _, path = record.partition("\t")
            out.append((path, meta.split()[1]))
    return out


class RepoIndex:
    """The files of a repository with their symbols and terms, ranked against an issue."""

    def __init__(self, entries: list[FileEntry]):
        self.entries = entries
        self._bm25 = None

    @classmethod
    def build(cls, root: Path, cache_dir: Path | None = None, exclude: tuple[str, ...] = ()) -> RepoIndex:
        cache = _load_cache(cache_dir)
        entries, fresh = [], False
        for path, blob in tracked_files(root):
            if path.startswith(exclude) or os.path.splitext(path)[1].lower() in BINARY_SUFFIXES:
                continue
            hit = cache.get(blob)
            if hit is None:
                hit = cache[blob] = _analyse(root / path, path)
                fresh = True
            if hit is not None and hit.get("text", True):
                entries.append(FileEntry(path, blob, hit["symbols"], hit["terms"] + terms_of(path)))
        if fresh and cache_dir is not None:
            _save_cache(cache_dir, cache)
        return cls(entries)

    def symbol_names(self) -> set[str]:
        return symbol_names(self.entries)

    def rank(self, query: str, limit: int = 10) -> list[FileEntry]:
        """Files by BM25 relevance to the query (paths, symbols and contents all count)."""
        words = terms_of(query)
        if not words or not self.entries:
            return []
        if self._bm25 is None:
            from rank_bm25 import BM25Okapi

            self._bm25 = BM25Okapi([e.terms or ["_"] for e in self.entries])
        scores = self._bm25.get_scores(words)
        order = sorted(range(len(self.entries)), key=lambda i: (-scores[i], self.entries[i].path))
        return [self.entries[i] for i in order[:limit] if scores[i] > 0]

    def _spread(self, word: str) -> float:
        """In about how many files' first text a word is (BM25's inverse document frequency,
        inverted); a word in none is taken as everywhere: every defined name is among the terms."""
        idf = self._bm25.idf.get(word.lower()) if self._bm25 is not None else None
        if idf is None:
            return math.inf
        return (len(self.entries) + 0.5 - 0.5 * math.exp(idf)) / (1 + math.exp(idf))

    def relevant(self, query: str, limit: int = 8) -> list[tuple[FileEntry, tuple[str, ...]]]:
        """The files to send whole, best first, each with the symbol names that chose it: the
        files the query names or that define what it names, then BM25's order for the rest."""
        ranked = self.rank(query, limit=limit)  # builds BM25, whose word rarity the claim uses
        chosen = dict(claim([(e.path, e.symbols) for e in self.entries], query, self._spread))
        for entry in ranked:
            if len(chosen) >= limit:
                break
            chosen.setdefault(entry.path, ())
        by_path = {e.path: e for e in self.entries}
        return [(by_path[path], names) for path, names in list(chosen.items())[:limit]]


def _analyse(file: Path, path: str) -> dict | None:
    try:
        data = file.read_bytes()
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\0" in data[:8000]:
        return {"text": False, "symbols": [], "terms": []}
    symbols = symbols_of(path, data)
    text = data[:TERMS_FROM_CONTENT].decode("utf-8", errors="replace")
    return {"symbols": symbols, "terms": terms_of(" ".join(symbols) + " " + text)}


def _load_cache(cache_dir: Path | None) -> dict:
    if cache_dir is None:
        return {}
    try:
        doc = json.loads((cache_dir / "repomap.json").read_text())
        return doc["blobs"] if doc.get("version") == CACHE_VERSION else {}
    except (OSError, ValueError, KeyError):
        return {}


def _save_cache(cache_dir: Path, blobs: dict) -> None:
    write_atomic(cache_dir / "repomap.json", json.dumps({"version": CACHE_VERSION, "blobs": blobs}))


# -- rendering -------------------------------------------------------------------------------

def repo_context(index: RepoIndex, root: Path, query: str, budget_tokens: int) -> str:
    """The repository map and the most relevant files, within about budget_tokens tokens."""
    budget = budget_tokens * 4  # characters; a token is about four characters of code
    ranked = index.relevant(query, limit=12)
    map_text = _map(index, [entry for entry, _ in ranked], budget // 2)
    parts, used = [map_text], len(map_text)
    for entry, names in ranked[:8]:
        room = min(budget - used, 12_000)
        if room < 400:
            break
        body = _read(root / entry.path, room - 100, names)
        block = f"### {entry.path}\n{fenced(body)}"
        parts.append(block)
        used += len(block)
    if len(parts) > 1:
        parts.insert(1, "Files most relevant to the issue:")
    return "\n\n".join(parts)


def _map(index: RepoIndex, ranked: list[FileEntry], budget: int) -> str:
    chosen, used = [], 0
    first = {e.path for e in ranked}
    for entry in sorted(index.entries, key=lambda e: (e.path not in first, e.path)):
        line = f"{entry.path}: {'; '.join(entry.symbols)}" if entry.symbols else entry.path
        if used + len(line) > budget:
            break
        chosen.append(line)
        used += len(line) + 1
    more = len(index.entries) - len(chosen)
    lines = sorted(chosen) + ([f"… and {more} more files"] if more else [])
    return f"Repository map ({len(index.entries)} files: path: top-level symbols)\n" + "\n".join(lines)


def _read(file: Path, limit: int, names: tuple[str, ...]) -> str:
    text = file.read_text(encoding="utf-8", errors="replace")
    return text if len(text) <= limit else focused(text, names, limit)
