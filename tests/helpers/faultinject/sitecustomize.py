"""Deterministic fault injection for a real agentos process (tests/helpers/faults.py starts it).

With AGENTOS_TEST_FAULT="module:attribute:when:N[:action]" set, the named function (a
module-level function, or `Class.method`) is wrapped as soon as its module is imported, so
every `from module import name` elsewhere gets the wrapper. On its N-th call, `before` or
`after` the real call, the process acts:

  kill   SIGKILL itself (the default): its children keep running, as after `kill -9 PID`
  group  SIGKILL its whole process group: a kill of the process tree (git included)
  int    SIGINT itself (Ctrl-C)
  term   SIGTERM itself
  torn   (append_line only, `before`) write half of the line, then SIGKILL itself

Before acting it appends the spec to the file AGENTOS_TEST_FAULT_FIRED, so a test can tell
that the fault really happened. Production code knows nothing of this.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import signal
import sys


def _fire(spec: str, action: str, args: tuple, kwargs: dict) -> None:
    fired = os.environ.get("AGENTOS_TEST_FAULT_FIRED")
    if fired:
        with open(fired, "a", encoding="utf-8") as out:
            out.write(spec + "\n")
            out.flush()
            os.fsync(out.fileno())
    if action == "torn":
        path, line = args[0], args[1]
        with open(path, "ab") as out:
            data = (line + "\n").encode("utf-8")
            out.write(data[: len(data) // 2])
            out.flush()
            os.fsync(out.fileno())
        action = "kill"
    if action == "group":
        os.killpg(0, signal.SIGKILL)
    sig = {"kill": signal.SIGKILL, "int": signal.SIGINT, "term": signal.SIGTERM}[action]
    os.kill(os.getpid(), sig)


def _wrap(fn, spec: str, when: str, nth: int, action: str):
    calls = 0

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            _fire(spec, action, args, kwargs)
        result = fn(*args, **kwargs)
        if calls == nth and when == "after":
            _fire(spec, action, args, kwargs)
        return result

    return wrapper


def _patcher(spec: str):
    module, attr, when, nth, *rest = spec.split(":")
    action = rest[0] if rest else "kill"
    if when not in ("before", "after") or action not in ("kill", "group", "int", "term", "torn"):
        raise SystemExit(f"AGENTOS_TEST_FAULT: cannot read {spec!r}")

    def patch(mod) -> None:
        owner, _, name = attr.rpartition(".")
        target = functools.reduce(getattr, owner.split("."), mod) if owner else mod
        setattr(target, name, _wrap(getattr(target, name), spec, when, int(nth), action))

    return module, patch


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Lets the module load as usual, then patches it before anyone else can import from it."""

    def __init__(self, module: str, patch):
        self.module, self.patch = module, patch

    def find_spec(self, name, path=None, target=None):
        if name != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(mod):
            run(mod)
            self.patch(mod)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("AGENTOS_TEST_FAULT"):
    sys.meta_path.insert(0, _PatchOnImport(*_patcher(os.environ["AGENTOS_TEST_FAULT"])))
