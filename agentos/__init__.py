"""agentos: take a software issue to a reviewed, tested pull request."""

__version__ = "0.1.0"
