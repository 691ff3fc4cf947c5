"""Which files an issue is about, from what it names: the symbols and paths in its prose, code
spans, fenced code and tracebacks, looked up in an index of where each symbol is defined.

BM25 over words ranks `django/utils/text.py` far down for an issue about `slugify` on a large
repository; the file that defines the name is the one the drafter needs. Each mention weighs by
how specific it is (a traceback frame or a resolved dotted path over a code span over a bare
word), divided among the files it could mean, so a name defined in thirty files says nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

SYMBOL_SLOTS = 4  # at most this many of the files sent whole are claimed by what the issue names
MIN_SCORE = 0.5  # a mention's weight divided by the files it could mean; below this it says nothing

WORD_SPREAD = 0.005  # a plain word of prose names a symbol only if in at most 0.5% of the files
CODE_SPREAD = 0.01  # the same for a plain word in code (a shell line, a traceback's header)

WEIGHT = {"frame": 4.0, "path": 4.0, "dotted": 3.0, "code": 2.0, "file": 2.0,
          "ident": 1.5, "word": 1.0}

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
FRAME = re.compile(r'File "([^"]+)", line \d+(?:, in [\w<>.]+)?')  # the frame's function: its path says it
PATH = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)*[\w-]+\.[A-Za-z]{1,5}\b(?![\w/(]|\.\w)")
IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+\(?([\w\s,]+)", re.M)
NAME = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z_]\w{2,})")  # one or two letters: noise
PLAIN = re.compile(r"[A-Za-z][a-z]*$")  # `lists`, `Context`; not `bulk_create`, `QuerySet`
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
STRING = re.compile(r"""(['"]).*?\1""")
DEFINITION = r"^[ \t]*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:def|class|function|func(?:\s*\([^)]*\))?|type|interface|const)\s+{}\b"


@dataclass(frozen=True)
class Mention:
    """Something the issue names: a path, a dotted name or a bare name, and how it was written."""

    text: str
    kind: str  # a key of WEIGHT
    bonus: float = 0.0  # a traceback's innermost frames weigh a little more than its outer ones

    @property
    def weight(self) -> float:
        return WEIGHT[self.kind] + self.bonus


def definitions(symbols: list[str]) -> list[str]:
    """The names a file defines, from its map symbols: `name`, and `Class.method` and `method`."""
    names: list[str] = []
    for sym in symbols:
        head, _, members = sym.partition(": ")
        owner = head.partition(" ")[2].partition("(")[0]
        names.append(owner)
        if members:
            for member in members.split(", "):
                names += (f"{owner}.{member}", member)
    return names


def mentions(query: str) -> list[Mention]:
    """What the query names, strongest way of writing each kept once, in a fixed order."""
    found: list[Mention] = []
    frames = FRAME.findall(query)
    found += [Mention(path, "frame", i / len(frames)) for i, path in enumerate(frames)]
    prose = FENCE.sub(lambda m: _code(m.group(2), found), FRAME.sub(" ", query))
    prose = SPAN.sub(lambda m: _code(m.group(1), found), prose)
    found += _paths(prose, "path")
    for match in NAME.finditer(PATH.sub(" ", prose)):
        name = match.group()
        after = prose[match.end() : match.end() + 1]
        kind = "dotted" if "." in name else "ident" if _looks_like_code(name, after) else "word"
        found.append(Mention(name, kind))
    best: dict[str, Mention] = {}
    for mention in found:
        if mention.text not in best or mention.weight > best[mention.text].weight:
            best[mention.text] = mention
    return sorted(best.values(), key=lambda m: (-m.weight, m.text))


def _code(text: str, found: list[Mention]) -> str:
    """Collect the mentions in a piece of code (a span or a fenced block) into `found`; the
    blank that replaces the code in the prose."""
    for module, names in IMPORT.findall(text):
        found += [Mention(f"{module}.{n.strip()}", "dotted") for n in names.split(",") if n.strip()]
    found += _paths(text, "path")
    for name in NAME.findall(STRING.sub(" ", FRAME.sub(" ", PATH.sub(" ", text)))):
        found.append(Mention(name, "dotted" if "." in name else "code"))
    return " "


def _paths(text: str, kind: str) -> list[Mention]:
    """Paths written in text; a bare file name (`text.py`) is weaker than one with folders."""
    return [Mention(p, kind if "/" in p else "file") for p in PATH.findall(text)]


def _looks_like_code(name: str, after: str) -> bool:
    """A called name, snake_case, camelCase or with digits: an identifier even in prose."""
    return after == "(" or "_" in name or any(c.isupper() for c in name[1:]) or any(c.isdigit() for c in name)


def claim(files: list[tuple[str, list[str]]], query: str, spread: Callable[[str], float] = lambda word: 0.0,
          slots: int = SYMBOL_SLOTS) -> list[tuple[str, tuple[str, ...]]]:
    """Up to `slots` of `files` (path, map symbols) that the query names or names a symbol of,
    best first, with the names that chose each. A plain word ("lists", "Context", "python")
    counts only if it is rare in the repository's text (`spread`: in how many files): in prose or
    a shell line it is English before it is a method's name, while "slugify" is not."""
    most = {"word": max(3.0, len(files) * WORD_SPREAD), "code": max(5.0, len(files) * CODE_SPREAD)}
    wanted = [m for m in mentions(query) if not (m.kind in most and PLAIN.match(m.text) and spread(m.text) > most[m.kind])]
    index = SymbolIndex(files, {part for m in wanted for part in IDENTIFIER.findall(m.text)})
    return index.claim(wanted, slots)


class SymbolIndex:
    """Symbol name -> the files that define it, and file paths by base name.

    Given `vocabulary` (the identifiers of what a query names), only names it can ask about are
    indexed: a query asks about a few names, a large repository defines a hundred thousand."""

    def __init__(self, files: list[tuple[str, list[str]]], vocabulary: set[str] | None = None):
        self.defines: dict[str, list[str]] = defaultdict(list)
        self.by_basename: dict[str, list[str]] = defaultdict(list)
        for path, symbols in sorted(files):
            self.by_basename[path.rpartition("/")[2]].append(path)
            if vocabulary is not None and not any(word in " ".join(symbols) for word in vocabulary):
                continue  # a substring test is the fast one; the names are compared exactly below
            for name in set(definitions(symbols)):
                if vocabulary is None or name.rpartition(".")[2] in vocabulary:
                    self.defines[name].append(path)

    def claim(self, wanted: list[Mention], slots: int = SYMBOL_SLOTS) -> list[tuple[str, tuple[str, ...]]]:
        """Up to `slots` files the mentions point at, best first, each with the symbol names that
        point at it (for showing their definitions when the file is cut)."""
        score: dict[str, float] = defaultdict(float)
        focus: dict[str, list[str]] = defaultdict(list)
        for mention in wanted:
            files, names = self._resolve(mention)
            if not files or mention.weight / len(files) < MIN_SCORE:
                continue
            for path in files:
                score[path] += mention.weight / len(files)
                focus[path] += [n for n in names if n not in focus[path]]
        ranked = sorted(score, key=lambda p: (-score[p], p))[:slots]
        return [(path, tuple(focus[path])) for path in ranked]

    def _resolve(self, mention: Mention) -> tuple[list[str], list[str]]:
        """The files a mention could mean, and the symbol names it points at in them."""
        if mention.kind in ("frame", "path", "file"):
            return self.files_at(mention.text), []
        if "." not in mention.text:  # a name, else a module's (`dumpdata`, the command's file)
            return list(self.defines.get(mention.text, ())) or self.files_at(f"{mention.text}.py"), [mention.text]
        return self._dotted(mention.text.split("."))

    def _dotted(self, parts: list[str]) -> tuple[list[str], list[str]]:
        """`package.module.name`, `module.Class.method`, `Class.method` or `obj.attr.name`."""
        for k in range(len(parts), 0, -1):
            modules, rest = self._modules(parts[:k]), parts[k:]
            if modules and not rest:
                return modules, []
            if modules:
                names = [".".join(rest[:2]), rest[0]] if len(rest) > 1 else [rest[0]]
                defining = [m for m in modules if any(m in self.defines.get(n, ()) for n in names)]
                packages = tuple(m.rsplit("/", 1)[0] + "/" for m in modules if "/" in m)
                inside = [p for p in self.defines.get(rest[-1], ()) if p.startswith(packages)]
                if defining or inside:  # defined there, or re-exported by the package
                    return defining or inside, names if defining else [rest[-1]]
        for name in (".".join(parts[-2:]), parts[-1]):
            if name in self.defines:
                return list(self.defines[name]), [name]
        return [], []

    def _modules(self, parts: list[str]) -> list[str]:
        stem = "/".join(parts)
        return sorted(set(self.files_at(stem + ".py") + self.files_at(stem + "/__init__.py")))

    def files_at(self, path: str) -> list[str]:
        """Tracked files a written path means: all of it is their trailing components
        (`text.py`, `utils/text.py`); or, for an absolute path such as a traceback's, all of theirs
        are its trailing ones (`/site-packages/django/utils/text.py`), or at least two of them
        (`/site-packages/pkg/mod.py` for `src/pkg/mod.py`)."""
        absolute = path.startswith(("/", "\\")) or path[1:3] in (":\\", ":/")
        wanted = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if not wanted:
            return []
        out = []
        for candidate in self.by_basename.get(wanted[-1], ()):
            have = candidate.split("/")
            common = 0
            while common < min(len(have), len(wanted)) and have[-1 - common] == wanted[-1 - common]:
                common += 1
            if common == len(wanted) or absolute and common >= min(len(have), 2):
                out.append(candidate)
        return out


def focused(text: str, names: tuple[str, ...], limit: int) -> str:
    """A file cut to about `limit` characters that still shows the definitions of `names`: its
    head, then each definition that would have been cut, from its first line on."""
    patterns = [re.compile(DEFINITION.format(re.escape(n.rsplit(".", 1)[-1])), re.M) for n in names]
    starts = sorted({m.start() for pattern in patterns for m in pattern.finditer(text)})
    head = limit // 3 if any(s > limit - 200 for s in starts) else limit
    late = [s for s in starts if s >= head][:3]
    if not late:
        return text[:limit] + "\n… (cut)"
    share = (limit - head) // len(late)
    late = [s for i, s in enumerate(late) if i == 0 or s >= late[i - 1] + share]  # no window twice
    parts = [text[:head]] + [text[s : s + share] for s in late]
    return "\n… (cut)\n".join(parts) + "\n… (cut)"
