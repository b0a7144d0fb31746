"""Use cases: command handlers, event handlers, queries. Knows ports, not frameworks."""
