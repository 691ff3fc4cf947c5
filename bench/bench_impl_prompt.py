"""Prompt tokens per implementation call: the conversation sent whole vs bounded (conversation.py).

    .venv/bin/python bench/bench_impl_prompt.py [--corpus six]

A scripted round of the built-in implementer, on the demo repository and on a real project
of the corpus (tests/corpus: fetched once into its cache, then no network). The shared prefix
holds the files the LLD lists (the module and its tests) as prefix.py sends them, so the
rounds read a file only after changing it: tests first (run the suite, write the tests, run,
read them again, run, finish), then the fix (run, edit, run, read, run, finish). The tool calls
run for real in a copy of the repository (file tools, the project's suite on this interpreter);
each request is built as agent.py builds it, after a shared prefix of the documents (the
repository context, the same in every call, is left out). Tokens are estimated (characters / 4,
as the budget does before a call). Prints, per round: the first call, the largest, and the
largest as a multiple of the first, and all calls' tokens together, sent whole and bounded.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.llm.base import Message, Request, ToolCall  # noqa: E402
from agentos.llm.budget import estimate_input_tokens  # noqa: E402
from agentos.workflows.implementation import docs as documents  # noqa: E402
from agentos.workflows.implementation import prompts  # noqa: E402
from agentos.workflows.implementation.agent import TOOL_REPORT_CHARS  # noqa: E402
from agentos.workflows.implementation.conversation import prompt_messages  # noqa: E402
from agentos.workflows.implementation.tools import TOOL_SPECS, WorktreeTools  # noqa: E402
from agentos.workflows.prefix import DESIGN_FILES, SYSTEM  # noqa: E402
from agentos.workflows.prompts import data_block  # noqa: E402

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"


def suite(root: Path, command: str) -> str:
    """What the run_tests tool says: the summary line and the tail of the output."""
    proc = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True,
                          env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"})
    out = proc.stdout + proc.stderr
    last = next((line for line in reversed(out.splitlines()) if line.strip()), "")
    return f"{last}\n{out[-TOOL_REPORT_CHARS:]}"


def rounds(module: str, tests: str, new_test: str, edit: tuple[str, str]) -> list[list[tuple[str, dict]]]:
    """The two rounds' tool calls (one per model call)."""
    red = [("run_tests", {}), ("append", {"path": tests, "text": new_test}), ("run_tests", {}),
           ("read_file", {"path": tests}), ("run_tests", {}), ("finish", {})]
    green = [("run_tests", {}), ("replace_in_file", {"path": module, "old": edit[0], "new": edit[1]}),
             ("run_tests", {}), ("read_file", {"path": module}), ("run_tests", {}), ("finish", {})]
    return [red, green]


def play(root: Path, command: str, spec: str, files: list[str],
         plan: list[list[tuple[str, dict]]]) -> dict[str, list[list[int]]]:
    """Run the rounds; tokens of each call's request, sent whole and bounded, per round."""
    kit = WorktreeTools(root, lambda: suite(root, command))
    lld = "## Files changed\n| Path | Change |\n|---|---|\n" + "".join(f"| {f} | modify |\n" for f in files)
    files_now = documents.named_files(documents.in_tree(root), lld, 24000)
    shared = [Message(role="user", content=prompts.named_files(files_now, title=DESIGN_FILES)),
              Message(role="user", content=data_block("approved implementation spec", spec))]
    named = prompts.named_files(files_now, "\n".join(m.content for m in shared))
    state = [Message(role="user", content=prompts.intro(command, prompts.red_task([]), [], named)).model_dump()]
    sizes: dict[str, list[list[int]]] = {"whole": [], "bounded": []}
    for n, steps in enumerate(plan):
        if n:
            said = "The new tests fail as they should and are committed. Now make them pass.\n" + suite(root, command)
            state.append(Message(role="user", content=said).model_dump())
        for kind in sizes:
            sizes[kind].append([])
        for i, (name, args) in enumerate(steps):
            for kind, build in (("whole", lambda s: [Message.model_validate(m) for m in s]), ("bounded", prompt_messages)):
                request = Request(system=SYSTEM, messages=[*shared, *build(state)], tools=TOOL_SPECS,
                                  purpose="impl", turn=i)
                sizes[kind][-1].append(estimate_input_tokens(request))
            state += _step(kit, root, f"{n}.{i}", name, args)
    return sizes


def _step(kit: WorktreeTools, root: Path, call_id: str, name: str, args: dict) -> list[dict]:
    if name == "append":  # a whole-file write, as models usually do: the file with the new test
        name, args = "write_file", {"path": args["path"], "content": (root / args["path"]).read_text() + args["text"]}
    call = ToolCall(id=call_id, name=name, arguments=args)
    text, _ = kit.execute(call)
    return [Message(role="assistant", tool_calls=[call]).model_dump(),
            Message(role="tool", tool_call_id=call_id, content=text).model_dump()]


def report(label: str, sizes: dict[str, list[list[int]]]) -> None:
    print(f"\n{label}: prompt tokens per implementation call (estimated)")
    print(f"  {'round':11} {'calls':>5}  {'whole: first':>12} {'largest':>8} {'x':>6} {'all':>8}"
          f"  {'bounded: first':>14} {'largest':>8} {'x':>6} {'all':>8}")
    for n, (whole, bounded) in enumerate(zip(sizes["whole"], sizes["bounded"])):
        name = ("tests first", "fix")[n] if n < 2 else f"round {n}"
        print(f"  {name:11} {len(whole):>5}  {whole[0]:>12,} {max(whole):>8,} {max(whole) / whole[0]:>6.2f} {sum(whole):>8,}"
              f"  {bounded[0]:>14,} {max(bounded):>8,} {max(bounded) / bounded[0]:>6.2f} {sum(bounded):>8,}")


def demo() -> None:
    from agentos.demo import create_sample
    from agentos.demo.sample import ISSUE_BODY, ISSUE_TITLE

    with tempfile.TemporaryDirectory() as tmp:
        repo = create_sample(Path(tmp) / "demo")
        spec = (f"# Spec: {ISSUE_TITLE}\n\n{ISSUE_BODY}\n\n## Test mapping\n"
                "| AC1 | tests/test_slug.py::MoreTest::test_dashes |\n")
        old = '    return re.sub(r"[^a-z0-9]", "-", text.lower())'
        plan = rounds("textkit/slug.py", "tests/test_slug.py",
                      "\n\nclass MoreTest(unittest.TestCase):\n    def test_dashes(self):\n"
                      "        self.assertEqual(slugify('a  b'), 'a-b')\n",
                      (old, '    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")'))
        report("demo (textkit)", play(repo, f"{sys.executable} -m unittest discover -s tests -t .", spec,
                                      ["textkit/slug.py", "tests/test_slug.py"], plan))


def corpus(name: str) -> None:
    from tests.corpus.fetch import get_project, prepare

    project = get_project(name)
    with tempfile.TemporaryDirectory() as tmp:
        repo = prepare(project, Path(tmp) / name, with_bug=True)
        [failing, *_] = project.data["bug"]["fails"]
        issue = project.data["issue"]
        spec = f"# Spec: {issue['title']}\n\n{issue['body']}\n\n## Test mapping\n| AC1 | {failing} |\n"
        tests = failing.split("::")[0]
        plan = rounds(project.fix.file, tests, "\n\ndef test_issue_example():\n    assert True\n",
                      (project.fix.search, project.fix.replace))
        report(f"corpus: {name} {project.version}", play(repo, PYTEST, spec, [project.fix.file, tests], plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="six", help="corpus project to play the round on ('' for none)")
    args = parser.parse_args()
    demo()
    if args.corpus:
        try:
            corpus(args.corpus)
        except Exception as exc:  # the corpus cache may be empty and offline: say so, the demo still counts
            print(f"\ncorpus: {args.corpus}: not run ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    main()
