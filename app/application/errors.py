"""Failure classes the delivery machinery acts on."""


class PermanentFailure(Exception):
    """Retrying cannot help (bad message, a 4xx from a receiver): dead-letter at once."""


class TransientFailure(Exception):
    """Worth retrying later (timeouts, 5xx, a receiver that is down)."""


class UnprocessableMessage(PermanentFailure):
    """Permanent: the message itself is wrong, not the world around it."""


class CorruptMessage(UnprocessableMessage):
    """The envelope is missing fields, has wrong types or does not decode."""


class UnknownEventType(UnprocessableMessage):
    """No event class is registered under this wire name."""


class UnsupportedSchemaVersion(UnprocessableMessage):
    """The event's schema version is newer than this code, or has no upcaster."""


class StoreUnavailable(TransientFailure):
    """The database did not answer (dropped connection, failover); try again later."""
