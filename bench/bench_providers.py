"""Adapter overhead per model call, and what `orchestrate --help` / `--dry-run` import.

    .venv/bin/python bench/bench_providers.py [--calls 200]

Overhead: the wall time of `provider.complete()` against the loopback fake of each API, minus
the time the fake server spent on the request (reading it, writing the streamed answer). What
is left is client-side: building the request, the SDK and its HTTP client, parsing the stream,
our retry layer, usage and cost. Measured for a short answer (a few stream events) and for a
long one (400 text deltas), after one warm-up call that pays the SDK import.

Imports: which provider SDK modules `python -X importtime` sees for `orchestrate --help` and
`orchestrate --issue 1 --dry-run` on the sample repository with real providers configured.
Prints figures; asserts nothing (these machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentos.config import ProviderConfig  # noqa: E402
from agentos.llm.anthropic_api import AnthropicProvider  # noqa: E402
from agentos.llm.base import Message, Request  # noqa: E402
from agentos.llm.gemini_api import GeminiProvider  # noqa: E402
from agentos.llm.models import model_info  # noqa: E402
from agentos.llm.openai_api import OpenAIProvider  # noqa: E402
from tests.llm.fakes import anthropic as fake_anthropic  # noqa: E402
from tests.llm.fakes import gemini as fake_gemini  # noqa: E402
from tests.llm.fakes import openai as fake_openai  # noqa: E402

TEXT = "The design keeps one regular expression and strips the edges. " * 4


def long(reply, delta_index: int, copies: int):
    """The same reply with one text-delta frame repeated: a long streamed answer."""
    events = list(reply.events)
    reply.events = events[:delta_index] + [events[delta_index]] * copies + events[delta_index + 1:]
    return reply


ADAPTERS = {
    "anthropic": (fake_anthropic, lambda url: AnthropicProvider(
        "claude:sonnet-4.6", model_info("claude", "sonnet-4.6"), ProviderConfig(base_url=url),
        {"ANTHROPIC_API_KEY": fake_anthropic.KEY}), lambda: fake_anthropic.stream(TEXT), 3),
    "openai": (fake_openai, lambda url: OpenAIProvider(
        "openai:gpt-5", model_info("openai", "gpt-5"), ProviderConfig(base_url=url + "/v1"),
        {"OPENAI_API_KEY": fake_openai.KEY}), lambda: fake_openai.stream(TEXT), 1),
    "gemini": (fake_gemini, lambda url: GeminiProvider(
        "gemini:3-pro-preview", model_info("gemini", "3-pro-preview"), ProviderConfig(base_url=url),
        {"GEMINI_API_KEY": fake_gemini.KEY}), lambda: fake_gemini.stream(TEXT), 0),
}


def overheads(name: str, calls: int, deltas: int) -> list[float]:
    module, make, reply, delta_index = ADAPTERS[name]
    request = Request(system="You are careful.", messages=[Message(role="user", content="Design it.")],
                      purpose="lld.draft")
    out = []
    with module.server() as srv:
        provider = make(srv.url)
        for i in range(calls + 1):
            srv.push(long(reply(), delta_index, deltas) if deltas else reply())
            started = time.perf_counter()
            provider.complete(request)
            total = time.perf_counter() - started
            if i:  # the first call pays the SDK import and the client's setup
                out.append(total - srv.requests[-1].handled_s)
    return out


def imported_sdks(args: list[str], cwd: Path) -> tuple[set[str], float]:
    code = "import sys; from agentos.cli.orchestrate import main; sys.argv = ['orchestrate', *sys.argv[1:]]; main()"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=cwd,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return {n for n in names if n.startswith(("anthropic", "openai", "google.genai", "httpx2"))}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(f"adapter overhead per call (client-side time, server time removed; {args.calls} calls each)")
    for name in ADAPTERS:
        for label, deltas in (("short answer", 0), ("400-delta answer", 400)):
            ms = sorted(x * 1000 for x in overheads(name, args.calls if not deltas else args.calls // 4, deltas))
            p90 = ms[int(len(ms) * 0.9) - 1]
            print(f"  {name:<10} {label:<17} median {statistics.median(ms):6.2f} ms   p90 {p90:6.2f} ms")
    from agentos.demo import create_sample
    from tests.helpers.sample import edit_config

    with tempfile.TemporaryDirectory() as tmp:
        repo = create_sample(Path(tmp) / "repo")
        edit_config(repo, stages={"lld": {"drafter": "claude:opus-4.5", "reviewer": "gemini:3-pro-preview"},
                                  "spec": {"drafter": "openai:gpt-5", "reviewer": "ollama:qwen3"}})
        for argv in (["--help"], ["--issue", "1", "--dry-run"]):
            sdks, elapsed = imported_sdks(argv, repo)
            found = sorted(sdks) or "none"
            print(f"orchestrate {' '.join(argv):<22} {elapsed:.2f}s, provider SDK modules imported: {found}")


if __name__ == "__main__":
    main()
