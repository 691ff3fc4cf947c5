"""Back ends of the `agentos` commands that are not a run: status, doctor, gates, issues, config.

Each function here is what one subcommand calls; the CLI only parses arguments and prints the
result. Running an issue (orchestrate, one workflow) is `agentos.workflows.orchestrator.run`.
"""
