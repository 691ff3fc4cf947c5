"""A provider's settings, as the `providers:` section of the config file holds them.

They live with the providers so the model layer never imports the config module; the config
module imports them from here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    base_url: str | None = None
    """API root: for ollama, vllm and openai-compatible the server's OpenAI-compatible endpoint
    (e.g. http://localhost:11434/v1); for the cloud APIs a proxy or gateway."""
    api_key_env: str | None = None
    """Name of the environment variable (or .env entry) that holds the key; never the key itself."""
    command: str | None = None
    """Agent CLI providers: the executable to run (default: claude, gemini or codex on PATH)."""
    timeout_s: float = Field(600, gt=0)
    """Wall-clock limit for one model call, retries and waits included."""
    idle_timeout_s: float = Field(120, gt=0)
    """A streamed answer that sends nothing for this long is cut (and retried)."""
    max_attempts: int = Field(4, ge=1, le=10)
    """Attempts per call when the provider is overloaded, rate-limited, unreachable or times out."""
    max_retry_wait_s: float = Field(60, ge=0)
    """Longest wait between attempts; a provider asking to wait longer fails the call instead."""
    max_output_tokens: int | None = Field(None, ge=1)
    """The most tokens the model may write in one answer (default: its known limit; 8192 for models
    agentos does not know, e.g. behind openai-compatible). A truncated answer is retried once with
    twice the room, up to this."""
