"""The wire envelope of an event: what the outbox publishes and webhooks receive."""

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from app.application.errors import CorruptMessage, UnprocessableMessage
from app.application.messages import EventMessage
from app.domain.events import EVENT_CLASSES
from app.infrastructure.messaging.upcasters import upcast


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
    payload: dict[str, Any]

    @classmethod
    def of(cls, message: EventMessage) -> "Envelope":
        event = message.event
        return cls(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            aggregate_version=event.aggregate_version,
            occurred_at=event.occurred_at.isoformat(),
            correlation_id=message.correlation_id,
            causation_id=message.causation_id,
            payload=event.payload(),
        )

    @classmethod
    def from_dict(cls, data: object) -> "Envelope":
        """Validate an incoming envelope; raises CorruptMessage with the reason."""
        if not isinstance(data, dict):
            raise CorruptMessage(f"envelope must be an object, got {type(data).__name__}")
        expected = {
            "event_id": str,
            "event_type": str,
            "schema_version": int,
            "aggregate_type": str,
            "aggregate_id": str,
            "aggregate_version": int,
            "occurred_at": str,
            "correlation_id": str,
            "causation_id": str,
            "payload": dict,
        }
        missing = sorted(set(expected) - set(data))
        if missing:
            raise CorruptMessage(f"envelope is missing {', '.join(missing)}")
        for key, kind in expected.items():
            if not isinstance(data[key], kind) or isinstance(data[key], bool):
                raise CorruptMessage(f"envelope field {key} must be {kind.__name__}")
        return cls(**{key: data[key] for key in expected})

    def to_dict(self) -> dict[str, Any]:
        """A shallow dict: the payload is shared, not copied (envelopes are never mutated)."""
        return {f.name: getattr(self, f.name) for f in _FIELDS}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    def to_message(self) -> EventMessage:
        """Decode into a current-version domain event (upcasting old payloads)."""
        try:
            payload = upcast(self.event_type, self.schema_version, self.payload)
            event = EVENT_CLASSES[self.event_type].from_payload(
                payload,
                aggregate_id=self.aggregate_id,
                aggregate_version=self.aggregate_version,
                event_id=self.event_id,
                occurred_at=datetime.fromisoformat(self.occurred_at),
            )
        except UnprocessableMessage:
            raise
        except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
            raise CorruptMessage(f"{self.event_type} payload does not decode: {exc}") from exc
        return EventMessage(event, self.correlation_id, self.causation_id)


_FIELDS = fields(Envelope)


def decode_message(data: object) -> EventMessage:
    """A received envelope as the current-version event message; raises CorruptMessage,
    UnknownEventType or UnsupportedSchemaVersion (all permanent) when it cannot be."""
    return Envelope.from_dict(data).to_message()
