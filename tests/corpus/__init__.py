"""A corpus of real open-source projects for end-to-end tests (see projects.yaml)."""
