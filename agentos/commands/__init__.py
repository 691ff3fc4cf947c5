"""Back ends of the commands that inspect or steer runs: status, doctor, gate decisions.

Each function here is what one `agentos` subcommand calls; the CLI only parses arguments and
prints the result. Running an issue itself is `agentos.workflows.orchestrator.run`.
"""
