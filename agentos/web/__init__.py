"""The web dashboard (`agentos serve`): runs, documents, diffs, tests and cost from the read model,
and gate decisions from the page. Needs the `web` extra; imported only by that command."""
