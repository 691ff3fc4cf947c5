"""The orchestrator's configuration schema (defined with the rest in agentos.config)."""

from agentos.config import (  # noqa: F401  (re-exported: the request names this module)
    GatesConfig,
    ImplementationStageConfig,
    OrchestratorConfig,
    ReviewStageConfig,
    StagesConfig,
    load_config,
)

# Gate name → the stage whose result it approves; a rejection sends feedback to that stage.
GATES: dict[str, str] = {
    "after_triage": "triage",
    "after_lld": "lld",
    "after_spec": "spec",
    "before_pr": "impl",
}
