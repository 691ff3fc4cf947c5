"""`orchestrate --help` and `--dry-run` import no provider SDK (checked with python -X importtime)."""

from __future__ import annotations

import subprocess
import sys

SDKS = ("anthropic", "openai", "google.genai", "httpx2")


def _imported(args: list[str], cwd) -> set[str]:
    code = "import sys; from agentos.cli.orchestrate import main; sys.argv = ['orchestrate', *sys.argv[1:]]; main()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return {m for m in modules if m.startswith(SDKS)}


def test_help_imports_no_sdk(tmp_path):
    assert _imported(["--help"], tmp_path) == set()


def test_dry_run_with_real_providers_configured_imports_no_sdk(sample_repo):
    from tests.helpers.sample import edit_config

    edit_config(sample_repo, stages={"lld": {"drafter": "claude:opus-4.5", "reviewer": "gemini:3-pro-preview"},
                                     "spec": {"drafter": "openai:gpt-5", "reviewer": "ollama:qwen3"},
                                     "triage": {"drafter": "openai:gpt-7-preview"}})
    proc = subprocess.run([sys.executable, "-m", "agentos.cli.orchestrate", "--issue", "1", "--dry-run"],
                          cwd=sample_repo, capture_output=True, text=True, timeout=120)
    assert "claude:opus-4.5" in proc.stdout and "NOT READY" in proc.stdout
    [newer] = [line for line in proc.stdout.splitlines() if line.startswith("  openai:gpt-7-preview")]
    assert "(unpriced: its cost shows as $0" in newer
    assert _imported(["--issue", "1", "--dry-run"], sample_repo) == set()
