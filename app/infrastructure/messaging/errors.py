"""Messages we can never process, however often we retry: they go to dead letter."""

from app.application.errors import PermanentFailure


class UnprocessableMessage(PermanentFailure):
    """Permanent: the message itself is wrong, not the world around it."""


class CorruptMessage(UnprocessableMessage):
    """The envelope is missing fields, has wrong types or does not decode."""


class UnknownEventType(UnprocessableMessage):
    """No event class is registered under this wire name."""


class UnsupportedSchemaVersion(UnprocessableMessage):
    """The event's schema version is newer than this code, or has no upcaster."""
