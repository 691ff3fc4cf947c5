"""Configuration: pydantic models for `.agentos/config.yaml`, layered with --set and flags.

Precedence, lowest first: built-in defaults → the YAML file → `--set key=value` → flags.
Every leaf remembers where its value came from, for `agentos config show`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentos.errors import ConfigError
from agentos.files import read_user_text
from agentos.llm.registry import PROVIDER_NAMES, PROVIDERS
from agentos.llm.settings import ProviderConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ReviewStageConfig(_Strict):
    drafter: str = "claude:opus-4.5"
    """Model that writes the document, as provider:model."""
    reviewer: str = "gemini:3-pro-preview"
    """Model that reviews it; use a different model from the drafter."""
    max_revisions: int = Field(5, ge=0, le=50)
    """Revisions after the first draft before the stage blocks unapproved."""
    context_tokens: int = Field(24000, ge=1000)
    """Token budget for repository context in the drafter's prompt."""
    budget_usd: float | None = Field(None, gt=0)
    """Cap on this stage's model spend in USD; the run pauses (exit 5) before a call that could cross it."""


class TriageStageConfig(ReviewStageConfig):
    max_revisions: int = Field(2, ge=0, le=50)
    """Revisions after the first draft before the stage blocks unapproved."""
    context_tokens: int = Field(8000, ge=1000)
    """Token budget for repository context in the drafter's prompt."""


class SpecStageConfig(ReviewStageConfig):
    max_revisions: int = Field(3, ge=0, le=50)
    """Revisions after the first draft before the stage blocks unapproved."""


class ImplementationStageConfig(_Strict):
    implementer: str = "claude:opus-4.5"
    """Model that writes the tests and code, as provider:model; or an agent CLI run in the
    worktree: claude-code:<model>, codex:<model>, gemini-cli:<model>, aider:<model>."""
    context_tokens: int = Field(24000, ge=1000)
    """Token budget for the files the LLD lists, sent as they are in the implementer's first message."""
    max_test_retries: int = Field(3, ge=0, le=20)
    """Fix rounds after the first implementation attempt while tests fail (also the number of
    retries the tests-first phase gets when its new tests do not fail)."""
    test_command: str | None = None
    """Command that runs the target's tests; detected when unset. {python} is the worktree's Python."""
    setup_command: str | None = None
    """Command that prepares the worktree's test environment, run again when the dependency
    files change; when unset: a .venv with the declared dependencies for Python, npm for Node."""
    python_venv: bool = True
    """Without a setup_command, give a Python target its own .venv in the worktree."""
    setup_timeout_s: int = Field(900, ge=1)
    """Wall-clock limit for the setup (virtual environment, dependency install)."""
    test_timeout_s: int = Field(900, ge=1)
    """Wall-clock limit for one test run; the whole process group is killed past it."""
    max_steps: int = Field(40, ge=1, le=500)
    """Model turns allowed per implementation round."""
    max_tokens_per_round: int = Field(1_000_000, ge=1000)
    """Input plus output tokens the built-in implementer may use in one round."""
    max_cost_per_round_usd: float = Field(5.0, ge=0)
    """Model cost the built-in implementer may spend in one round."""
    external_timeout_s: int = Field(1800, ge=1)
    """Wall-clock limit for one run of an agent CLI implementer; its process group is killed past it."""
    budget_usd: float | None = Field(None, gt=0)
    """Cap on this stage's model spend in USD; the run pauses (exit 5) before a call that could cross it."""


class CodeReviewStageConfig(_Strict):
    reviewer: str | None = None
    """Model that reviews the implementation's diff and writes tests to break it, as
    provider:model; default: the spec's reviewer. Use a different model from the implementer."""
    max_rounds: int = Field(3, ge=1, le=20)
    """Reviews of the diff before the stage blocks unapproved (fix rounds go in between)."""
    adversarial_tests: int = Field(3, ge=0, le=10)
    """Tests the reviewer may write per round to break the change; 0 turns them off."""
    context_tokens: int = Field(24000, ge=1000)
    """Token budget for the diff and the files it touches in the reviewer's prompt (the repository
    context is the run's shared prefix)."""
    budget_usd: float | None = Field(None, gt=0)
    """Cap on this stage's model spend in USD (the reviewer and the implementer's fix rounds);
    the run pauses (exit 5) before a call that could cross it."""


class StagesConfig(_Strict):
    triage: TriageStageConfig = Field(default_factory=TriageStageConfig)
    lld: ReviewStageConfig = Field(default_factory=ReviewStageConfig)
    spec: SpecStageConfig = Field(default_factory=SpecStageConfig)
    implementation: ImplementationStageConfig = Field(default_factory=ImplementationStageConfig)
    review: CodeReviewStageConfig = Field(default_factory=CodeReviewStageConfig)
    """The code review between the implementation and the PR."""

    @model_validator(mode="after")
    def _review_defaults_to_spec_reviewer(self) -> StagesConfig:
        if self.review.reviewer is None:
            self.review.reviewer = self.spec.reviewer
        return self


class GatesConfig(_Strict):
    after_triage: bool = False
    """Pause for human approval after the issue brief."""
    after_lld: bool = False
    """Pause for human approval after the LLD is approved by the reviewer."""
    after_spec: bool = False
    """Pause for human approval after the implementation spec."""
    after_review: bool = False
    """Pause for human approval after the code review approves the change; a rejection's
    feedback goes to the implementer as a fix round, and the reviewer looks again."""
    before_pr: bool = True
    """Pause for human approval before the pull request is opened (after the code review); a
    rejection sends the implementation stage back to work, and the code review runs again."""


class GitHubConfig(_Strict):
    base_url: str | None = None
    """REST API root; for GitHub Enterprise e.g. https://ghe.example.com/api/v3. Default: from the remote's host."""
    repo_slug: str | None = None
    """The repository as owner/name; default: read from the remote's URL."""
    remote: str = "origin"
    """The git remote that is the GitHub repository; the work branch is pushed there."""
    rate_limit_wait_s: int = Field(300, ge=0)
    """Wait for the API rate limit to reset when it resets within this many seconds; else stop, saying when."""
    retries: int = Field(3, ge=0, le=10)
    """Retries, with back-off, of a request that failed on the network or with a server error."""


class SandboxConfig(_Strict):
    """Where the code the model writes runs: its tests, the set-up, agent CLIs as implementers.
    `sandbox: off` is short for `sandbox: {backend: off}`."""

    backend: Literal["auto", "bubblewrap", "off"] = "auto"
    """auto and bubblewrap: run it under bubblewrap, and refuse (exit 2) where bubblewrap cannot
    run; off: run it unconfined, with your environment, files and network (warned on every run
    and recorded in the PR body)."""
    env: list[str] = Field(default_factory=list)
    """Environment variable names (fnmatch patterns) passed into the sandbox besides PATH, LANG,
    LC_*, TERM and what agentos sets; e.g. [DATABASE_URL]. Never put a secret's name here."""
    memory_mb: int = Field(4096, ge=64)
    """Memory each sandboxed process may allocate (RLIMIT_DATA); past it allocations fail."""
    processes: int = Field(1024, ge=8)
    """Processes a sandboxed command may have at once; a fork bomb stops there. RLIMIT_NPROC
    counts all of a user's processes, so leave room for the ones you already run; as root (not
    limited by it) a pids cgroup holds the limit instead."""
    setup_network: bool = True
    """Let the test environment's set-up reach the package indexes (uv, pip, npm); test runs never
    have the network."""
    bwrap: str = "bwrap"
    """The bubblewrap executable, a name on PATH or a path."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is False or value == "off":  # YAML reads a bare `off` as false
            return {"backend": "off"}
        if isinstance(value, str):
            return {"backend": value}
        if isinstance(value, dict) and value.get("backend") is False:
            return {**value, "backend": "off"}
        return value


class ProviderLimit(_Strict):
    concurrency: int = Field(4, ge=1, le=1000)
    """Calls to this provider in flight at once, across every worker of a batch."""
    per_minute: int | None = Field(None, ge=1)
    """Calls this provider may start in any minute, across every worker; unset: no rate limit."""


class StateConfig(_Strict):
    url: str | None = None
    """Where runs keep their state: unset, in the repository (.agentos/state.db and run folders);
    postgresql://user:password@host/db: in PostgreSQL, shared by every machine (needed for Ray)."""

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (or unset for the repository's own files)")
        return value


class BatchConfig(_Strict):
    """`agentos batch`: where the issues run, how many at once, in which order, within which limits."""

    engine: Literal["local", "ray"] = "local"
    """local: a pool of worker processes on this machine; ray: one Ray task per issue on a cluster."""
    address: str | None = None
    """The Ray cluster to join (e.g. ray://head:10001 or head:6379); unset: a local Ray instance."""
    workers: int | None = Field(None, ge=1, le=256)
    """Issues run at once; unset: the machine's cores, within the providers' concurrency limits."""
    budget_usd: float | None = Field(None, gt=0)
    """Cap on the whole batch's model spend, reserved per call across every worker."""
    issue_timeout_s: int = Field(6 * 3600, ge=60)
    """Wall-clock limit for one issue's worker; past it the worker is ended (its checkpoint stays)."""
    priority_labels: list[str] = Field(default_factory=list)
    """Issues with the first of these labels run first, then the second's, ...; the rest after."""
    oldest_first: bool = True
    """Within a priority, older (lower-numbered) issues first; false: newest first."""
    limits: dict[str, ProviderLimit] = Field(default_factory=dict)
    """Per provider name (anthropic, gemini, openai-compatible, ...): shared concurrency and rate."""


class DashboardConfig(_Strict):
    """`agentos serve`: the web dashboard."""

    continue_runs: Literal["server", "poll"] = "server"
    """After a gate is decided on the dashboard, who continues the run: server: the dashboard starts
    it at once in the background (as `orchestrate --issue N`, ended with the server); poll: it waits
    for `agentos poll` (or `orchestrate --issue N`), e.g. from cron."""


class OrchestratorConfig(_Strict):
    skip_existing_brief: bool = True
    """Reuse an approved issue brief already on the branch or base branch."""
    skip_existing_lld: bool = True
    """Reuse an approved LLD already on the branch or base branch."""
    skip_existing_spec: bool = True
    """Reuse an approved implementation spec already on the branch or base branch."""
    stages: StagesConfig = Field(default_factory=StagesConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    max_stage_attempts: int = Field(2, ge=1, le=10)
    """How many times a stage may run when it ends RETRY before it blocks."""
    base_branch: str | None = None
    """Branch the work starts from and the PR targets; default: the repository's default branch."""
    branch_prefix: str = "agentos/issue-"
    """The work branch is this prefix followed by the issue number."""
    docs_dir: str = "docs/agentos"
    """Where design documents are written in the repository (committed on the work branch)."""
    forge: Literal["auto", "local", "github"] = "auto"
    """Where issues and PRs live; auto: GitHub when the remote and a token allow, else local."""
    pr_draft: bool = False
    """Open the pull request as a draft."""
    github: GitHubConfig = Field(default_factory=GitHubConfig)
    """GitHub settings (used when forge is github, or auto finds a GitHub remote and a token)."""
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    """How model-written code is confined (see SandboxConfig); `sandbox: off` opts out."""
    budget_usd: float | None = Field(None, gt=0)
    """Cap on the run's model spend in USD; the run pauses (exit 5) before a call that could cross it."""
    state: StateConfig = Field(default_factory=StateConfig)
    """Where checkpoints, run records, the call journal and the spend ledger live."""
    batch: BatchConfig = Field(default_factory=BatchConfig)
    """`agentos batch`: engine, workers, shared budget and provider limits, priority."""


    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    """The web dashboard (`agentos serve`)."""
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    """Model provider settings by provider name, e.g. providers.ollama.base_url. Keys stay in the
    environment or the repository's .env, never here."""

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        unknown = sorted(set(value) - set(PROVIDER_NAMES))
        if unknown:
            raise ValueError(f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(sorted(PROVIDERS))}")
        return value


class AgentosConfig(_Strict):
    """The whole `.agentos/config.yaml` file."""

    orchestrator: OrchestratorConfig = Field(default_factory=OrchestratorConfig)


@dataclass
class LoadedConfig:
    config: OrchestratorConfig
    sources: dict[str, str] = field(default_factory=dict)
    """Dotted leaf path → where its value came from (only for non-defaults)."""
    file: Path | None = None

    def source_of(self, path: str) -> str:
        return self.sources.get(path, "default")


def load_config(
    repo_root: Path,
    config_file: Path | None = None,
    sets: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> LoadedConfig:
    """Read and validate the effective configuration for a repository."""
    path = config_file or (repo_root / ".agentos" / "config.yaml")
    if config_file is not None and not config_file.exists():
        raise ConfigError(f"config file {config_file} does not exist", "check the --config path")
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path.exists():
        raw = _read_yaml(path, "--config" if config_file is not None else str(path))
        _record(raw, "", sources, str(path))
    for item in sets or []:
        key, value = _parse_set(item)
        _assign(raw, key, value, f"--set {item}")
        sources[key] = f"--set {item}"
    for key, value in (flags or {}).items():
        if value is not None:
            _assign(raw, key, value, "a flag")
            sources[key] = "flag"
    try:
        cfg = AgentosConfig.model_validate({"orchestrator": raw} if raw else {})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources), "see `agentos config schema` for every key") from None
    return LoadedConfig(cfg.orchestrator, sources, path if path.exists() else None)


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(read_user_text(path, what)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}", "fix the syntax; indent with spaces") from None
    if not isinstance(doc, dict) or set(doc) - {"orchestrator"}:
        extra = sorted(set(doc) - {"orchestrator"}) if isinstance(doc, dict) else []
        raise ConfigError(
            f"{path}: unknown top-level key(s) {', '.join(map(repr, extra)) or '(not a mapping)'}",
            "the file must have one top-level key, `orchestrator:`",
        )
    body = doc.get("orchestrator") or {}
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: `orchestrator` must be a mapping of settings")
    return body


def _record(node: dict[str, Any], prefix: str, sources: dict[str, str], origin: str) -> None:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            _record(value, dotted + ".", sources, origin)
        else:
            sources[dotted] = origin


def set_key(item: str) -> str:
    """The dotted key a `--set KEY=VALUE` item sets."""
    return item.partition("=")[0].strip().removeprefix("orchestrator.")


def _parse_set(item: str) -> tuple[str, Any]:
    key, (_, sep, text) = set_key(item), item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r} is not KEY=VALUE", "e.g. --set stages.lld.max_revisions=2")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def _assign(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: cannot set {dotted}: {part} is a value, not a section",
                              "see `agentos config schema` for every key")
        node = child
    node[leaf] = value


def _explain(exc: ValidationError, sources: dict[str, str]) -> str:
    """One line per problem, each naming where the value came from (the file, a --set, a flag)."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"][1:])  # without the `orchestrator` root
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(err["loc"][:-1]))
            problem = f"{loc}: unknown key; allowed here: {allowed}"
        else:
            problem = f"{loc}: {err['msg']} (got {err.get('input')!r})"
        problems.append((_origin(loc, sources), problem))
    origins = {origin for origin, _ in problems}
    if len(origins) == 1:
        return f"invalid configuration in {origins.pop()}:\n" + "\n".join(f"  {p}" for _, p in problems)
    return "invalid configuration:\n" + "\n".join(f"  {p} (from {origin})" for origin, p in problems)


def _origin(loc: str, sources: dict[str, str]) -> str:
    """Where the value at `loc` (or the section holding it) was given."""
    parts = loc.split(".")
    for n in range(len(parts), 0, -1):
        if (found := sources.get(".".join(parts[:n]))) is not None:
            return found
    below = {origin for key, origin in sources.items() if key.startswith(loc + ".")}
    return below.pop() if len(below) == 1 else "the configuration"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = AgentosConfig
    for part in loc:
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def flatten(model: BaseModel, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf paths → values, in declaration order."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out.update(flatten(value, f"{prefix}{name}."))
        elif isinstance(value, dict) and all(isinstance(v, BaseModel) for v in value.values()):
            for key, item in value.items():  # e.g. providers.ollama.*
                out.update(flatten(item, f"{prefix}{name}.{key}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def json_schema() -> dict[str, Any]:
    schema = AgentosConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "agentos configuration (.agentos/config.yaml)"
    return schema
