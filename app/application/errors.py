"""Failure classes the delivery machinery acts on, and the read side's refusal of a position
nobody was given."""


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


class PositionNotWritten(Exception):
    """A position past the newest event: no client was given it by a committed command.

    A command answers with its position only after its commit, and events are never
    deleted, so every position a client legitimately holds is at most the newest one. A
    writer may have taken a higher one from the sequence and not committed yet, but no
    client can know it.
    """

    def __init__(self, position: int, newest: int) -> None:
        super().__init__(f"no event has position {position}; the newest is {newest}")
        self.position = position
        self.newest = newest
