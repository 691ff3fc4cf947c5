"""Repository map on 5,000 files (cold, warm, memory) and prompt-prefix reuse across rounds.

    .venv/bin/python bench/bench_review_loop.py [--files 5000]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PY = "def {name}(value, limit={i}):\n    '''Helper {i} for {topic}.'''\n    total = 0\n    for step in range(limit):\n        total += step * value\n    return total\n\n\nclass {cls}:\n    def run(self):\n        return {name}(1)\n"
JS = "export function {name}(value) {{\n  return value * {i};\n}}\nexport class {cls} {{ render() {{ return '{topic}'; }} }}\n"
GO = "package p{i}\n\ntype {cls} struct{{}}\n\nfunc (c *{cls}) Serve() {{}}\n\nfunc {name}() int {{ return {i} }}\n"
TOPICS = ["billing", "search", "render", "auth", "cache", "queue", "report", "export", "import", "slug"]


def make_repo(root: Path, n: int) -> None:
    from agentos.demo import create_sample

    create_sample(root)
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        kind = (PY, JS, GO)[i % 3]
        ext = (".py", ".js", ".go")[i % 3]
        path = root / f"pkg{i // 100}" / f"{topic}_{i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(kind.format(name=f"{topic}_helper_{i}_{k}", cls=f"{topic.title()}Thing{i}x{k}", i=i, topic=topic)
                         for k in range(6))  # about 70 lines a file, like real modules
        path.write_text(body.replace("package p", "// package p") if ext == ".go" else body)
    ident = ["-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(["git", *ident, "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *ident, "commit", "-qm", "files"], cwd=root, check=True)


def measure_index(root: Path, cache: Path) -> dict:
    """In a child process, so memory is this measurement's alone."""
    code = (
        "import json,resource,sys,time\nfrom pathlib import Path\nfrom agentos.repo.context import RepoIndex, repo_context\n"
        "t=time.perf_counter()\ni=RepoIndex.build(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "repo_context(i, Path(sys.argv[1]), 'slugify leaves repeated and trailing dashes', 24000)\n"
        "print(json.dumps({'s': time.perf_counter()-t, 'files': len(i.entries), "
        "'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root), str(cache)], check=True, capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def prefix_share(root: Path) -> list[float]:
    """Share of each round's prompt that is an identical prefix of the previous round's."""
    import yaml

    from agentos.workflows.orchestrator.run import run_workflow
    from agentos.workflows.orchestrator.session import RunOptions

    scripted = root / ".agentos" / "scripted"
    reviewer = yaml.safe_load((scripted / "reviewer.yaml").read_text())
    revise, approve = reviewer["replies"]["lld.review"]
    other = {"data": {"verdict": "REVISE", "summary": "almost", "findings": [
        {"id": "F2", "section": "Definition of done", "severity": "minor", "text": "Say the old tests still pass."}]}}
    reviewer["replies"]["lld.review"] = [revise, other, approve]
    (scripted / "reviewer.yaml").write_text(yaml.safe_dump(reviewer))
    drafter = yaml.safe_load((scripted / "drafter.yaml").read_text())
    first = drafter["replies"]["lld.revise"][0]
    second = {"data": {"addressed": ["F2"], "edits": [
        {"search": "Tests T1–T3 pass", "replace": "Tests T1–T3 (and the old ones) pass"}]}}
    drafter["replies"]["lld.revise"] = [first, second]
    (scripted / "drafter.yaml").write_text(yaml.safe_dump(drafter))
    for stage in ("triage", "lld"):
        assert run_workflow(stage, RunOptions(issue=1, repo=root, plain=True)).exit_code == 0
    calls = [json.loads(line) for log in (root / ".agentos" / "runs").glob("lld-*/scripted-calls.jsonl")
             for line in log.read_text().splitlines()]
    shares = []
    for purpose in ("lld.review", "lld.revise"):
        prompts = [c["system"] + "".join(m["content"] for m in c["messages"]) for c in calls if c["purpose"] == purpose]
        shares += [len(os.path.commonprefix([a, b])) / len(b) for a, b in zip(prompts, prompts[1:])]
    return shares


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, args.files)
        cache = Path(tmp) / "cache"
        cold = measure_index(root, cache)
        warm = [measure_index(root, cache) for _ in range(3)]
        shares = prefix_share(root)
    print(f"repo map + ranking, {cold['files']} files: cold {cold['s']:.2f}s (target <= 5), "
          f"warm median {statistics.median(w['s'] for w in warm):.2f}s (target <= 0.5)")
    print(f"peak memory (max RSS of the whole process): cold {cold['rss_mb']:.0f} MB, warm {max(w['rss_mb'] for w in warm):.0f} MB (target <= 300)")
    print(f"prompt prefix reused across rounds: min {min(shares):.1%}, median {statistics.median(shares):.1%} over {len(shares)} round pairs (target >= 80%)")


if __name__ == "__main__":
    main()
