"""What the code review stage adds to the demo: model calls and tokens, the stage's own and the
whole run's, from the run's call journal (`calls.jsonl`), and its wall time.

    .venv/bin/python bench/bench_code_review.py

The demo's models are scripted, so tokens are the scripted provider's estimate (4 characters a
token) of what the same prompts would cost a real model. Prints figures; asserts nothing. The
corpus figures (a replay model on real projects) are in bench/bench_corpus.py's review columns.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.demo import create_sample  # noqa: E402
from agentos.files import read_jsonl  # noqa: E402
from agentos.workflows.orchestrator.run import orchestrate  # noqa: E402
from agentos.workflows.orchestrator.session import RunOptions  # noqa: E402


def per_stage(journal: Path) -> dict[str, dict[str, int]]:
    """Stage → calls, input and output tokens of the run's journalled calls."""
    out: dict[str, dict[str, int]] = {}
    for record in read_jsonl(journal):
        stage = str(record.get("purpose", "?")).split(".")[0]
        usage = (record.get("response") or {}).get("usage") or {}
        row = out.setdefault(stage, {"calls": 0, "input": 0, "output": 0})
        row["calls"] += 1
        row["input"] += usage.get("input_tokens", 0)
        row["output"] += usage.get("output_tokens", 0)
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-code-review-") as tmp:
        root = create_sample(Path(tmp) / "demo")
        result = orchestrate(RunOptions(issue=1, repo=root, plain=True))
        if result.exit_code != 0:
            print(f"the demo did not finish: {result.message}", file=sys.stderr)
            return 1
        stages = per_stage(root / ".agentos" / "runs" / result.run_id / "calls.jsonl")
        review = result.state["stage_results"]["review"]
    total = {k: sum(s[k] for s in stages.values()) for k in ("calls", "input", "output")}
    own = stages.get("review", {"calls": 0, "input": 0, "output": 0})
    tokens, all_tokens = own["input"] + own["output"], total["input"] + total["output"]
    print(json.dumps(stages), file=sys.stderr)
    print("| demo | calls | input tok | output tok | share of tokens | stage time |")
    print("|---|---|---|---|---|---|")
    print(f"| code review | {own['calls']} | {own['input']:,} | {own['output']:,} | "
          f"{tokens / all_tokens:.0%} | {review['elapsed_s']:.2f} s |")
    print(f"| whole run | {total['calls']} | {total['input']:,} | {total['output']:,} | 100% | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
