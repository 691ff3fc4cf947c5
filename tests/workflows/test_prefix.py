"""Every model call of a run starts with the run's shared prefix, byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from agentos.demo import create_sample, run_demo

from agentos.errors import ExitCode
from agentos.markdown.escape import fenced
from agentos.workflows.orchestrator.run import orchestrate
from agentos.workflows.orchestrator.session import RunOptions
from agentos.workflows.prefix import DESIGN_FILES, DOC_TITLES, SYSTEM, TOOLS


def _calls(repo: Path) -> list[dict]:
    [log] = (repo / ".agentos" / "runs").glob("*/scripted-calls.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def _prefix(call: dict) -> list[str]:
    """The call's messages up to and including the first breakpoint (the end of the shared prefix)."""
    return [m.get("content", "") for m in call["messages"][:call["cache_after"][0] + 1]]


def test_every_call_of_a_run_starts_with_the_shared_prefix(tmp_path):
    run_demo(tmp_path / "demo", plain=True)
    calls = _calls(tmp_path / "demo")
    stages = {c["purpose"].split(".")[0] for c in calls}
    assert {"triage", "lld", "spec", "impl"} <= stages and len(calls) >= 10

    assert {c["system"] for c in calls} == {SYSTEM}  # no role before the shared part
    first = {_prefix(c)[0] for c in calls}
    assert len(first) == 1 and '<data name="repository">' in next(iter(first)) and '<data name="issue #1">' in next(iter(first))

    # Each stage's prefix holds the documents approved before it, in stage order, so a later
    # stage's prefix extends an earlier one's.
    expected = {"triage": 0, "lld": 1, "spec": 2, "impl": 3, "review": 3}
    by_stage = {}
    for call in calls:
        stage = call["purpose"].split(".")[0]
        prefix = _prefix(call)
        assert len(prefix) == 1 + expected[stage], call["purpose"]
        assert by_stage.setdefault(stage, prefix) == prefix, f"{call['purpose']} differs from its stage's prefix"
    assert by_stage["review"] == by_stage["impl"]  # the code review reads what the implementer read
    titles = list(DOC_TITLES.values())
    for later, earlier in (("lld", "triage"), ("spec", "lld"), ("impl", "spec")):
        assert by_stage[later][:len(by_stage[earlier])] == by_stage[earlier]
        assert f'<data name="{titles[expected[later] - 1]}">' in by_stage[later][-1]

    # What differs (the role, the task) comes after the prefix, and is marked for caching too.
    for call in calls:
        shared = call["cache_after"][0]
        assert call["cache_after"][1] == shared + 1
        assert call["messages"][shared + 1]["content"].startswith("You are ")


def test_the_repository_context_is_chosen_once_per_run(tmp_path):
    run_demo(tmp_path / "demo", plain=True)
    [saved] = (tmp_path / "demo" / ".agentos" / "runs").glob("*/repository-context.md")
    first = _calls(tmp_path / "demo")[0]["messages"][0]["content"]
    assert saved.read_text(encoding="utf-8") in first


def test_the_implementing_models_calls_all_carry_its_tools_and_only_the_implementer_calls_them(tmp_path):
    # As the defaults pair them: one model drafts and implements (its calls share one cache key,
    # tools first), another reviews (no tools at all).
    root = create_sample(tmp_path / "demo")
    scripted = root / ".agentos" / "scripted"
    writer = {"replies": {**yaml.safe_load((scripted / "drafter.yaml").read_text())["replies"],
                          **yaml.safe_load((scripted / "implementer.yaml").read_text())["replies"]}}
    (scripted / "writer.yaml").write_text(yaml.safe_dump(writer))
    model = "scripted:.agentos/scripted/writer.yaml"
    sets = [f"stages.{stage}.drafter={model}" for stage in ("triage", "lld", "spec")]
    sets.append(f"stages.implementation.implementer={model}")
    assert orchestrate(RunOptions(issue=1, repo=root, plain=True, sets=sets)).exit_code == ExitCode.DONE
    calls = _calls(root)
    by_writer = [c for c in calls if c["model"] == model]
    assert {c["purpose"].split(".")[0] for c in by_writer} >= {"triage", "lld", "spec", "impl"}
    assert {tuple(c["tools"]) for c in by_writer} == {tuple(t.name for t in TOOLS)}  # the cache key's start
    assert {c["purpose"] for c in calls if c["use_tools"] and c["tools"]} == {"impl.red", "impl.green"}
    assert all(not c["tools"] for c in calls if c["model"] != model)  # the reviewer's calls
    structured = [c for c in calls if c["purpose"].endswith(".review")]
    assert structured and all("matches this JSON Schema" in c["messages"][-1]["content"] for c in structured)


def test_the_files_the_design_lists_follow_it_in_the_prefix_as_they_were_before_the_change(tmp_path):
    root = create_sample(tmp_path / "demo")
    slug = root / "textkit" / "slug.py"
    slug.write_text(slug.read_text() + "".join(f"\n# note {i}: {'x' * 70}" for i in range(80)) + "\n")
    subprocess.run(["git", "commit", "-qam", "a longer module"], cwd=root, check=True)
    before = slug.read_text()
    small = [f"stages.{stage}.context_tokens=1000" for stage in ("triage", "lld", "spec")]  # slug.py: not whole
    assert orchestrate(RunOptions(issue=1, repo=root, plain=True, sets=small)).exit_code == ExitCode.DONE
    calls = {c["purpose"]: c for c in reversed(_calls(root))}  # each purpose's first call

    assert fenced(before) not in _prefix(calls["lld.draft"])[0]
    spec, impl = _prefix(calls["spec.draft"]), _prefix(calls["impl.red"])
    assert len(spec) == 4 and f'<data name="{DESIGN_FILES}">' in spec[-1] and fenced(before) in spec[-1]
    assert impl[:4] == spec and len(impl) == 5  # then the approved spec
    [saved] = root.glob(".agentos/runs/*/design-files-*.md")
    assert saved.read_text(encoding="utf-8") in spec[-1]
    # Later calls point at the prefix instead of sending the file again.
    task = calls["impl.red"]["messages"][len(impl)]["content"]
    assert "### textkit/slug.py\n(whole in the context above, as it is now)" in task and fenced(before) not in task
    review = calls["review.review"]["messages"]
    touched = next(m["content"] for m in review if 'name="files the diff touches"' in m["content"])
    assert "### textkit/slug.py\n(whole in the context above as it was before the change" in touched
