"""Keep secrets out of everything we write: logs, lineage, artifacts, events, prompts, PR bodies.

A Redactor knows the secret values (API keys and tokens) from an environment and replaces each
occurrence with a marker naming the variable, e.g. `[REDACTED:ANTHROPIC_API_KEY]`. The
module-level `redact()` uses the current process environment plus the values `remember()`ed from
a target repository's `.env`; every writer in agentos routes text through it. Tokens of the
well-known formats (GitHub, Anthropic, OpenAI, AWS, Google) are masked too, whoever's they are:
one pasted into an issue is no less secret for not being ours, e.g. `[REDACTED:github-token]`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping

SECRET_NAME = re.compile(
    r"(_API_KEY|_APIKEY|_TOKEN|_SECRET|_SECRET_KEY|_PASSWORD|_ACCESS_KEY|_AUTH_TOKEN)$"
    r"|^(GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|HF_TOKEN|NPM_TOKEN)$",
    re.IGNORECASE,
)
MIN_SECRET_LEN = 8
"""Shorter values (e.g. `TOKEN=1`) would redact ordinary text, and are no real secret."""
TOKEN_SHAPES = {
    "github-token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})\b",
    "anthropic-key": r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    "openai-key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{40,}",
    "aws-access-key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "google-api-key": r"\bAIza[0-9A-Za-z_-]{35}\b",
}
"""Token formats as their issuers document them; long enough that ordinary text never matches."""
_SHAPES = re.compile("|".join(f"(?P<{name.replace('-', '_')}>{rx})" for name, rx in TOKEN_SHAPES.items()))


def secret_items(env: Mapping[str, str]) -> dict[str, str]:
    """Secret value → the variable it came from, for the variables that hold secrets."""
    return {v: k for k, v in env.items() if SECRET_NAME.search(k) and v and len(v) >= MIN_SECRET_LEN}


class Redactor:
    def __init__(self, secrets: Mapping[str, str]):
        """`secrets`: value → name of its variable."""
        self.names: dict[str, str] = {}
        for value, name in secrets.items():
            self.names[value] = name
            escaped = json.dumps(value)[1:-1]  # the same secret inside a JSON document
            self.names.setdefault(escaped, name)
        ordered = sorted(self.names, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        return cls(secret_items(env))

    def __bool__(self) -> bool:
        """Always true: tokens of the known formats are masked even without a secret of our own."""
        return True

    def redact(self, text: str) -> str:
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: f"[REDACTED:{self.names[m.group(0)]}]", text)
        return _SHAPES.sub(lambda m: f"[REDACTED:{m.lastgroup.replace('_', '-')}]", text)

    __call__ = redact


_lock = threading.Lock()
_remembered: dict[str, str] = {}
_cached: tuple[frozenset[tuple[str, str]], Redactor] | None = None


def remember(env: Mapping[str, str]) -> None:
    """Also redact the secrets of `env` (e.g. a target repository's .env) from now on."""
    found = secret_items(env)
    with _lock:
        _remembered.update(found)


def current() -> Redactor:
    """The redactor for this process: its environment's secrets and the remembered ones."""
    global _cached
    secrets = {**_remembered, **secret_items(os.environ)}
    fingerprint = frozenset(secrets.items())
    with _lock:
        if _cached is None or _cached[0] != fingerprint:
            _cached = (fingerprint, Redactor(secrets))
        return _cached[1]


def redact(text: str) -> str:
    """`text` with every known secret replaced by a marker naming its variable."""
    return current().redact(text)
