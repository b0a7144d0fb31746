"""Adapters: database, broker, notification channels."""
