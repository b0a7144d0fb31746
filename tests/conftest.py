"""Shared test configuration: the real-infrastructure harness is a plugin in tests/support."""

pytest_plugins = ["tests.support.fixtures"]
