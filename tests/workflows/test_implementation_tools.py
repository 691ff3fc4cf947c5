"""The implementer's tool calls as a hostile or confused model makes them: every argument checked,
searches linear-time and bounded; each problem goes back to the model as the tool's result."""

from __future__ import annotations

import pytest

from agentos.llm.base import ToolCall
from agentos.workflows.implementation.search import Bounds, search
from agentos.workflows.implementation.tools import MAX_ARGUMENT_CHARS, WorktreeTools


@pytest.fixture
def kit(tmp_path):
    root = tmp_path / "wt"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x = 1\n")
    return WorktreeTools(root, run_tests=lambda: "1 passed")


def _call(kit, name, **arguments):
    return kit.execute(ToolCall(id="1", name=name, arguments=arguments))


@pytest.mark.parametrize("name,arguments,says", [
    ("read_file", {"path": "src/a.py\x00.txt"}, "`path` contains a NUL byte"),
    ("write_file", {"path": "src/\x00", "content": "x"}, "`path` contains a NUL byte"),
    ("list_dir", {"path": "\x00"}, "`path` contains a NUL byte"),
    ("search_text", {"pattern": "a\x00"}, "`pattern` contains a NUL byte"),
    ("read_file", {"path": 7}, "`path` must be a string, not int"),
    ("read_file", {"path": ["src/a.py"]}, "`path` must be a string, not list"),
    ("read_file", {"path": None}, "`path` must be a string, not NoneType"),
    ("write_file", {"path": "b.py", "content": {"x": 1}}, "`content` must be a string, not dict"),
    ("replace_in_file", {"path": "src/a.py", "old": 1, "new": 2}, "`old` must be a string, not int"),
    ("search_text", {"pattern": True}, "`pattern` must be a string, not bool"),
    ("read_file", {"path": "a" * 5000}, "`path` is 5,000 characters; at most 1,024"),
    ("write_file", {"path": "b.py", "content": "x" * (MAX_ARGUMENT_CHARS + 1)}, "`content` is 2,000,001 characters"),
    ("read_file", {}, "missing argument(s) path"),
    ("read_file", {"path": "src/a.py", "mode": "rb"}, "unknown argument(s) mode"),
    ("run_tests", {"command": "rm -rf /"}, "unknown argument(s) command"),
])
def test_a_bad_argument_is_a_tool_error_for_the_model(kit, name, arguments, says):
    text, refused = _call(kit, name, **arguments)
    assert refused and text.startswith(f"error: bad arguments for {name}: ") and says in text
    assert not (kit.root / "b.py").exists() and (kit.root / "src" / "a.py").read_text() == "x = 1\n"


@pytest.mark.timeout(60)
def test_a_catastrophic_pattern_runs_in_linear_time(kit):
    (kit.root / "src" / "b.py").write_text("x" * 20_000 + "\n" + ("x" * 40 + "\n") * 100)
    text, refused = _call(kit, "search_text", pattern="(x+x+)+y")
    assert (text, refused) == ("no matches", False)
    assert "src/b.py:2:" in _call(kit, "search_text", pattern="^(x+x+)+$")[0]


@pytest.mark.parametrize("pattern,feature", [
    (r"(a)\1", "invalid escape sequence"),
    (r"(?<=a)b", "invalid perl operator"),
    (r"a(?=b)", "invalid perl operator"),
    ("(unclosed", "missing )"),
])
def test_a_feature_re2_lacks_is_a_clear_tool_error(kit, pattern, feature):
    text, refused = _call(kit, "search_text", pattern=pattern)
    assert refused and text.startswith("error: pattern not supported: ") and feature in text
    assert "RE2 syntax" in text and "no backreferences" in text


def test_an_oversized_pattern_is_refused(kit):
    text, refused = _call(kit, "search_text", pattern="a" * 1001)
    assert refused and "at most 1,000 are allowed" in text


def test_a_search_is_bounded_in_hits_bytes_and_line_length(tmp_path):
    files = []
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text(("match " + "y" * 1000 + "\n") * 10)
        files.append((f"f{i}.txt", tmp_path / f"f{i}.txt"))
    by_hits = search("match", files, Bounds(hits=15))
    assert by_hits.count("\n") == 15 and by_hits.endswith("(more than 15 matches; narrow the pattern)")
    assert max(len(line) for line in by_hits.splitlines()) < 330
    by_bytes = search("match", files, Bounds(scanned_bytes=25_000))
    assert by_bytes.endswith("(the search stopped after reading 25,000 bytes)")
    assert by_bytes.count("f1.txt:") == 10 and "f2.txt" not in by_bytes
    by_time = search("match", files, Bounds(seconds=-1))
    assert by_time == "no matches\n(the search stopped after -1s)"
