"""`agentos doctor`: for each configured model, whether it can be used here, and what to fix.

Per model: the model is known (and priced), the SDK is installed or the CLI is on PATH, the key
is present (naming the variable and where it was found, never its value), the endpoint is
reachable; `--online` adds a one-token call. Also: whether the repository's .env is kept out of
git. No check imports an SDK unless `--online` asks for a real call.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from agentos import sandbox
from agentos.config import OrchestratorConfig, load_config
from agentos.errors import AgentosError, ProviderConfigError
from agentos.llm.adapter import ProviderBase, settings_for
from agentos.llm.agent_cli import AgentCli
from agentos.llm.base import Message, Request
from agentos.llm.models import FREE, model_info
from agentos.llm.registry import ProviderContext, provider_class, resolve, split_model_id
from agentos.paths import find_repo_root
from agentos.redact import redact
from agentos.repo.git import Git
from agentos.workflows.implementation.environment import describe_tests
from agentos.workflows.orchestrator.config import model_uses
from agentos.workflows.services import provider_context

PUBLIC_ENDPOINTS = {"anthropic": "https://api.anthropic.com", "gemini": "https://generativelanguage.googleapis.com",
                    "openai": "https://api.openai.com"}


@dataclass
class Finding:
    status: str
    """ok | FAIL | warn | skip"""
    what: str
    detail: str


@dataclass
class ModelReport:
    model_id: str
    used_by: list[str]
    findings: list[Finding] = field(default_factory=list)

    def add(self, status: str, what: str, detail: str) -> None:
        self.findings.append(Finding(status, what, detail))

    @property
    def ready(self) -> bool:
        return all(f.status != "FAIL" for f in self.findings)


def configured_models(config: OrchestratorConfig) -> dict[str, list[str]]:
    """Model id → the config keys that use it, in stage order."""
    out: dict[str, list[str]] = {}
    for _, key, model_id in model_uses(config):
        out.setdefault(model_id, []).append(key)
    return out


def run_doctor(repo: Path | None, online: bool, config_file: Path | None = None,
               sets: list[str] | None = None) -> tuple[str, bool]:
    """The report, and whether every configured model is ready."""
    root = find_repo_root(repo)
    loaded = load_config(root, config_file, sets)
    ctx = provider_context(root, loaded.config)
    reports = [check_model(m, used, ctx, online) for m, used in configured_models(loaded.config).items()]
    env_line, env_ok = dotenv_status(root)
    lines = [f"agentos doctor: {root} (config: {loaded.file or 'built-in defaults'})", env_line]
    lines += [_test_row(line) for line in describe_tests(root, loaded.config.stages.implementation)]
    lines += _sandbox_rows(sandbox.report(loaded.config.sandbox, root))
    for report in reports:
        lines.append(f"\n{report.model_id}  (used by {', '.join(report.used_by)})")
        lines += [f"  {f.status:<5} {f.what:<9} {f.detail}" for f in report.findings]
    ready = env_ok and all(r.ready for r in reports)
    lines.append("\nall configured models are ready" if ready else "\nsome models are not ready: see FAIL above")
    return redact("\n".join(lines)), ready


def _sandbox_rows(lines: list[str]) -> list[str]:
    """The sandbox's line as a row (`FAIL` when none can run, `warn` when off), what it allows below."""
    first = lines[0].split(": ", 1)[1]
    status = "FAIL" if first.startswith("none available") else "warn" if "sandbox: off" in lines[0] else "ok"
    return [f"  {status:<5} {'sandbox':<9} {first}", *[f"          {line}" for line in lines[1:]]]


def _test_row(line: str) -> str:
    """A `tests: …` or `test environment: …` line as a row: `warn` when nothing was detected."""
    what, detail = line.split(": ", 1)
    status = "warn" if detail.startswith("none detected") else "ok"
    return f"  {status:<5} {what.replace('test environment', 'test env'):<9} {detail}"


def check_model(model_id: str, used_by: list[str], ctx: ProviderContext, online: bool) -> ModelReport:
    report = ModelReport(model_id, used_by)
    if _is_worktree_agent(model_id, used_by):
        return _check_worktree_agent(report)
    try:
        provider, name = split_model_id(model_id)
    except ProviderConfigError as exc:
        report.add("FAIL", "model", f"{exc.message} ({exc.hint})")
        return report
    cls = provider_class(provider)
    if not (isinstance(cls, type) and issubclass(cls, ProviderBase)):
        why = cls.readiness(name, ctx) if hasattr(cls, "readiness") else None
        report.add("FAIL" if why else "ok", "model", why or f"{provider} provider")
        return report
    _check_real(report, cls, provider, name, ctx)
    if online:
        _ping(report, model_id, ctx)
    else:
        report.add("skip", "ping", "add --online for a one-token call")
    return report


def _check_real(report: ModelReport, cls: type[ProviderBase], provider: str, name: str, ctx: ProviderContext) -> None:
    info = model_info(provider, name)
    price = info.price
    if price is FREE:
        cost = "no per-token cost (your own server)"
    elif price is None:
        cost = "unpriced: its cost is reported as $0 and budget caps cannot count it"
    else:
        cost = f"${price.input:g}/${price.output:g} per M tokens in/out (prices checked {price.checked})"
    report.add("ok" if price else "warn", "model", f"{info.api_id or 'the CLI default'}; {cost}")
    settings = settings_for(ctx.settings, (provider, *cls.names))
    if issubclass(cls, AgentCli):
        command = settings.command or cls.binary
        where = shutil.which(command)
        report.add("ok" if where else "FAIL", "CLI", where or f"`{command}` is not on PATH (install it and log in)")
        report.add("ok", "key", "uses the CLI's own login")
        return
    installed = importlib.util.find_spec(cls.sdk_module) is not None if cls.sdk_module else True
    report.add("ok" if installed else "FAIL", "SDK",
               f"{cls.sdk_package} installed" if installed else f"pip install {cls.sdk_package}")
    report.add(*_key_finding(cls, settings, ctx))
    url = settings.base_url or getattr(cls, "default_base_url", None) or PUBLIC_ENDPOINTS.get(cls.names[0], "")
    report.add(*_reachable(url))


def _key_finding(cls: type[ProviderBase], settings, ctx: ProviderContext) -> tuple[str, str, str]:
    names = cls.key_names(settings)
    if not names:
        return "ok", "key", "none needed"
    found = next((n for n in names if ctx.env.get(n)), None)
    if found is None:
        return "FAIL", "key", f"set {' or '.join(names)} in the environment or {ctx.repo_root / '.env'}"
    where = "the environment" if os.environ.get(found) else str(ctx.repo_root / ".env")
    return "ok", "key", f"{found} is set (from {where})"


def _reachable(url: str, timeout_s: float = 3.0) -> tuple[str, str, str]:
    parts = urlsplit(url)
    if not parts.hostname:
        return "FAIL", "endpoint", f"no usable base URL ({url or 'none set'})"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.perf_counter()
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        return "FAIL", "endpoint", f"{parts.hostname}:{port} not reachable ({exc.strerror or exc})"
    return "ok", "endpoint", f"{parts.hostname}:{port} reachable ({(time.perf_counter() - started) * 1000:.0f} ms)"


def _ping(report: ModelReport, model_id: str, ctx: ProviderContext) -> None:
    """One real call with a one-token answer: proves key, model name and endpoint together."""
    request = Request(system="", messages=[Message(role="user", content="Reply with the word OK.")],
                      max_tokens=1, purpose="doctor.ping")
    try:
        response = resolve(model_id, ctx).complete(request)
    except AgentosError as exc:
        report.add("FAIL", "ping", str(exc).replace("\n", " "))
        return
    report.add("ok", "ping", f"answered in {response.latency_s:.2f}s (request {response.request_id}, "
                             f"${response.cost_usd:.6f})")


def _is_worktree_agent(model_id: str, used_by: list[str]) -> bool:
    from agentos.workflows.implementation import external

    return used_by == ["stages.implementation.implementer"] and external.is_external(model_id)


def _check_worktree_agent(report: ModelReport) -> ModelReport:
    from agentos.workflows.implementation import external

    why = external.readiness(report.model_id)
    report.add("FAIL" if why else "ok", "CLI", why or "agent CLI implementer on PATH (runs in the worktree)")
    return report


def dotenv_status(root: Path) -> tuple[str, bool]:
    """Whether the repository's .env (where keys may live) stays out of commits."""
    if not (root / ".env").exists():
        return "  ok    .env      none in the repository (keys come from the environment)", True
    git = Git(root)
    if git.ok("ls-files", "--error-unmatch", ".env"):
        return "  FAIL  .env      is committed: git rm --cached .env, ignore it, and rotate its keys", False
    if git.ok("check-ignore", "-q", ".env"):
        return "  ok    .env      present and git-ignored", True
    return "  warn  .env      present but not git-ignored: add it to .gitignore before a commit picks it up", True
