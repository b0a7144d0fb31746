"""Failure classes the delivery machinery acts on."""


class PermanentFailure(Exception):
    """Retrying cannot help (bad message, a 4xx from a receiver): dead-letter at once."""


class TransientFailure(Exception):
    """Worth retrying later (timeouts, 5xx, a receiver that is down)."""
