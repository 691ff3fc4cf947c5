"""Executable fakes of the agent CLIs (claude, gemini, codex), put on PATH by the tests.

Each fake is a small Python script named like the real CLI. It takes the next step from a plan
file (a JSON list), records what it was run with (argv, stdin, working directory, which secret
variables it could see), and then prints, fails or hangs as the step says. A hanging step
starts a child of its own first and writes both pids down, so a test can check that the whole
process group was killed.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

SCRIPT = r'''#!{python}
import json, os, subprocess, sys, time
home = {home!r}
plan = json.load(open(os.path.join(home, "plan.json")))
counter = os.path.join(home, "count")
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
step = plan[min(n, len(plan) - 1)]
record = {{"argv": sys.argv, "stdin": sys.stdin.read(), "cwd": os.getcwd(),
          "env": sorted(k for k in os.environ if k.endswith(("_KEY", "_TOKEN")))}}
with open(os.path.join(home, "calls.jsonl"), "a") as fh:
    fh.write(json.dumps(record) + "\n")
if step.get("hang"):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(os.path.join(home, "pids"), "w").write(f"{{os.getpid()}} {{child.pid}}")
    time.sleep(60)
sys.stdout.write(step.get("stdout", ""))
sys.stderr.write(step.get("stderr", ""))
sys.exit(step.get("exit", 0))
'''


class FakeCli:
    def __init__(self, root: Path, name: str):
        self.home = root / f"{name}-home"
        self.bin = root / "bin"
        self.home.mkdir(parents=True)
        self.bin.mkdir(exist_ok=True)
        path = self.bin / name
        path.write_text(SCRIPT.format(python=sys.executable, home=str(self.home)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.plan([])

    def plan(self, steps: list[dict]) -> FakeCli:
        (self.home / "plan.json").write_text(json.dumps(steps))
        return self

    def calls(self) -> list[dict]:
        path = self.home / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def pids(self) -> list[int]:
        return [int(p) for p in (self.home / "pids").read_text().split()]


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def gone(pid: int, within_s: float = 5.0) -> bool:
    """Whether the process has stopped running, waiting up to `within_s` for it to."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def claude_result(result: str = "", structured: dict | None = None, is_error: bool = False,
                  subtype: str = "success") -> dict:
    doc = {"type": "result", "subtype": subtype, "is_error": is_error, "result": result, "session_id": "sess-1",
           "total_cost_usd": 0.0123, "num_turns": 1,
           "usage": {"input_tokens": 120, "output_tokens": 30, "cache_read_input_tokens": 400,
                     "cache_creation_input_tokens": 50}}
    return {"stdout": json.dumps({**doc, **({"structured_output": structured} if structured else {})})}


def gemini_result(response: str = "", error: dict | None = None) -> dict:
    stats = {"models": {"gemini-2.5-pro": {"tokens": {"prompt": 500, "candidates": 40, "cached": 300,
                                                      "thoughts": 10, "total": 550}}}}
    doc = {"response": response, "stats": stats, **({"error": error} if error else {})}
    return {"stdout": json.dumps(doc), "exit": 1 if error else 0}


def codex_events(text: str = "", failed: str | None = None) -> dict:
    events = [{"type": "thread.started", "thread_id": "thread-1"}, {"type": "turn.started"}]
    if failed:
        events.append({"type": "turn.failed", "error": {"message": failed}})
    else:
        events += [{"type": "item.completed", "item": {"id": "i1", "type": "agent_message", "text": text}},
                   {"type": "turn.completed", "usage": {"input_tokens": 900, "cached_input_tokens": 600,
                                                        "output_tokens": 70}}]
    return {"stdout": "\n".join(json.dumps(e) for e in events) + "\n", "exit": 1 if failed else 0}
