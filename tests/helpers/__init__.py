"""Helpers the tests share: git repositories, the sample repository's settings, loopback servers."""
