"""The event envelope and its one codec: fields, encoding, validation and upcasting.

The envelope is a stored event on the wire: what the outbox publishes, a handler task
receives, webhooks POST, and (column for column) what an ``events`` row holds. Its fields
are declared once, on ``Envelope``; validation of a received envelope is derived from them.

Stored events are never rewritten. A payload of an older schema version is upcast each time
it is decoded: one upcaster per (event type, from-version), chained up to the current one.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol, cast, get_origin, get_type_hints

from app.application.errors import (
    CorruptMessage,
    UnknownEventType,
    UnprocessableMessage,
    UnsupportedSchemaVersion,
)
from app.application.messages import EventMessage, MessageContext
from app.domain.events import EVENT_CLASSES, DomainEvent
from app.domain.money import DEFAULT_CURRENCY

Payload = dict[str, Any]


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: str
    correlation_id: str
    causation_id: str
    payload: Payload

    @classmethod
    def of(cls, message: EventMessage) -> "Envelope":
        """Encode: an event at its current schema version, with its message context."""
        event = message.event
        return cls(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            aggregate_version=event.aggregate_version,
            occurred_at=event.occurred_at.isoformat(),
            correlation_id=message.context.correlation_id,
            causation_id=message.context.causation_id,
            payload=event.payload(),
        )

    @classmethod
    def from_dict(cls, data: object) -> "Envelope":
        """Validate an incoming envelope; raises CorruptMessage with the reason."""
        if not isinstance(data, dict):
            raise CorruptMessage(f"envelope must be an object, got {type(data).__name__}")
        missing = sorted(set(_KINDS) - set(data))
        if missing:
            raise CorruptMessage(f"envelope is missing {', '.join(missing)}")
        for name, kind in _KINDS.items():
            if not isinstance(data[name], kind) or isinstance(data[name], bool):
                raise CorruptMessage(f"envelope field {name} must be {kind.__name__}")
        return cls(**{name: data[name] for name in _KINDS})

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> "Envelope":
        """From a stored event's columns (others ignored); ``occurred_at`` an aware datetime."""
        values = {name: columns[name] for name in _KINDS}
        values["occurred_at"] = values["occurred_at"].isoformat()
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A shallow dict: the payload is shared, not copied (envelopes are never mutated)."""
        return {name: getattr(self, name) for name in _KINDS}

    def to_columns(self) -> dict[str, Any]:
        """The values of a stored event's columns: ``occurred_at`` as a datetime."""
        return {**self.to_dict(), "occurred_at": datetime.fromisoformat(self.occurred_at)}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @property
    def context(self) -> MessageContext:
        return MessageContext(self.correlation_id, self.causation_id)

    def to_message(self) -> EventMessage:
        """Decode into a current-version domain event (upcasting old payloads)."""
        try:
            occurred_at = datetime.fromisoformat(self.occurred_at)
        except ValueError as exc:
            raise CorruptMessage(f"{self.event_type} occurred_at does not decode: {exc}") from exc
        return EventMessage(decode_event(self, occurred_at), self.context)


def _field_kinds() -> dict[str, type]:
    """Each field, in order, with the JSON type its value must have (``payload``: dict)."""
    hints = get_type_hints(Envelope)
    return {f.name: get_origin(hints[f.name]) or hints[f.name] for f in fields(Envelope)}


_KINDS = _field_kinds()


class StoredEvent(Protocol):
    """What decoding needs of a stored or received event: an envelope or an ``events`` row."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def aggregate_version(self) -> int: ...
    @property
    def payload(self) -> Payload: ...


def decode_event(stored: StoredEvent, occurred_at: datetime) -> DomainEvent:
    """A current-version domain event from a stored or received payload of any known
    version; raises CorruptMessage, UnknownEventType or UnsupportedSchemaVersion.

    The one decoding step behind ``Envelope.to_message`` and the event store's reads, which
    call it straight on the row (a rebuild decodes every stored event).
    """
    try:
        current = upcast(stored.event_type, stored.schema_version, stored.payload)
        return EVENT_CLASSES[stored.event_type].from_payload(
            current,
            aggregate_id=stored.aggregate_id,
            aggregate_version=stored.aggregate_version,
            event_id=stored.event_id,
            occurred_at=occurred_at,
        )
    except UnprocessableMessage:
        raise
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise CorruptMessage(f"{stored.event_type} payload does not decode: {exc}") from exc


def claimed_event_id(data: object) -> str:
    """The event a received envelope names, once its shape is checked (CorruptMessage if
    not). Only the id is taken from a message: the delivery runs the stored event."""
    return Envelope.from_dict(data).event_id


class StoredEnvelope(StoredEvent, Protocol):
    """An ``events`` row: a stored event with its message context and time."""

    @property
    def occurred_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def causation_id(self) -> str: ...


def decode_stored(stored: object) -> EventMessage:
    """A stored event (an ``events`` row) as the current-version event message, with the
    context it was recorded with; raises as ``decode_event`` does."""
    row = cast(StoredEnvelope, stored)
    occurred_at = row.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return EventMessage(
        decode_event(row, occurred_at), MessageContext(row.correlation_id, row.causation_id)
    )


def _user_registered_v1_to_v2(payload: Payload) -> Payload:
    """Version 1 called the display name ``full_name``."""
    upgraded = {k: v for k, v in payload.items() if k != "full_name"}
    upgraded["name"] = payload["full_name"]
    return upgraded


def _order_created_v1_to_v2(payload: Payload) -> Payload:
    """Version 1 had no ``currency``: every order until then was taken in euros."""
    return {**payload, "currency": DEFAULT_CURRENCY}


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("user.registered", 1): _user_registered_v1_to_v2,
    ("order.created", 1): _order_created_v1_to_v2,
}
"""Register one function per (event type, from-version) when a payload changes."""


def upcast(event_type: str, schema_version: int, payload: Payload) -> Payload:
    """The payload of a stored event at the current schema version of its type."""
    return upcast_to_current(event_type, schema_version, payload)[1]


def upcast_to_current(
    event_type: str, schema_version: int, payload: Payload
) -> tuple[int, Payload]:
    """(current version, payload at it); raises UnknownEventType / UnsupportedSchemaVersion."""
    event_class = EVENT_CLASSES.get(event_type)
    if event_class is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    current = event_class.schema_version
    if schema_version > current:
        raise UnsupportedSchemaVersion(
            f"{event_type} v{schema_version} is newer than this code (v{current})"
        )
    while schema_version < current:
        step = UPCASTERS.get((event_type, schema_version))
        if step is None:
            raise UnsupportedSchemaVersion(f"no upcaster for {event_type} v{schema_version}")
        payload = step(payload)
        schema_version += 1
    return schema_version, payload
