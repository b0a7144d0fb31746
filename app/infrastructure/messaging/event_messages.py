"""One AsyncAPI message per (event type, schema version): the envelope with its payload.

The message's payload schema is the shared ``Envelope`` with this event's type, version and
aggregate type pinned and its own fields' schema (``#/components/schemas/<message id>``).
Only a current version carries the webhook's HTTP headers: an older one is upcast before
anything but a handler task's copy of the stored envelope carries it. Examples are fixed
values, so the committed catalog stays equal to the generated one.
"""

from typing import Any

from app.domain.events import EVENT_CLASSES, DomainEvent
from app.infrastructure.envelope import UPCASTERS
from app.infrastructure.messaging.event_schemas import example_id, example_payload
from app.infrastructure.messaging.webhook_headers import webhook_headers

EXAMPLE_TIME = "2026-01-02T03:04:05.678901+00:00"
EXAMPLE_REQUEST = "example-request-1"


def message_id(event_type: str, version: int | str) -> str:
    return f"{event_type}.v{version}"


def message(
    event_type: str, version: int, tree: dict[str, Any], webhook_key: str
) -> dict[str, Any]:
    """The message of one stored version; ``tree`` is its wire-contract payload, and
    ``webhook_key`` shows the form of the webhook's Idempotency-Key."""
    cls = EVENT_CLASSES[event_type]
    current = version == cls.schema_version
    envelope = {
        "type": "object",
        "properties": {
            "event_type": {"const": event_type},
            "schema_version": {"const": version},
            "aggregate_type": {"const": cls.aggregate_type},
            "payload": {"$ref": f"#/components/schemas/{message_id(event_type, version)}"},
        },
    }
    described: dict[str, Any] = {
        "name": event_type,
        "title": f"{cls.__name__} v{version}",
        "summary": _summary(cls, version),
        "contentType": "application/json",
        "tags": [{"name": cls.aggregate_type}],
        "payload": {"allOf": [{"$ref": "#/components/schemas/Envelope"}, envelope]},
        "examples": [
            {"name": message_id(event_type, version), "payload": _example(cls, version, tree)}
        ],
    }
    description = _own_docstring(cls) if current else _upcaster_doc(event_type, version)
    if description:
        described["description"] = description
    if current:
        described["bindings"] = {
            "http": {
                "headers": webhook_headers(event_type, webhook_key),
                "bindingVersion": "0.3.0",
            }
        }
    return described


def _summary(cls: type[DomainEvent], version: int) -> str:
    if version == cls.schema_version:
        return f"`{cls.event_type}`, current schema version {version}."
    return (
        f"`{cls.event_type}` as stored before v{version + 1}: read as "
        f"v{cls.schema_version} through its upcasters; not sent to webhooks."
    )


def _own_docstring(cls: type) -> str | None:
    """The class's own docstring, not the signature ``dataclass`` writes when it has none."""
    doc = cls.__doc__
    if not doc or doc.startswith(f"{cls.__name__}("):
        return None
    return " ".join(doc.split())


def _upcaster_doc(event_type: str, version: int) -> str | None:
    step = UPCASTERS.get((event_type, version))
    return " ".join(step.__doc__.split()) if step is not None and step.__doc__ else None


def _example(cls: type[DomainEvent], version: int, tree: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": example_id(message_id(cls.event_type, version)),
        "event_type": cls.event_type,
        "schema_version": version,
        "aggregate_type": cls.aggregate_type,
        "aggregate_id": example_id(f"{cls.aggregate_type}_id"),
        "aggregate_version": 1,
        "occurred_at": EXAMPLE_TIME,
        "correlation_id": EXAMPLE_REQUEST,
        "causation_id": EXAMPLE_REQUEST,
        "payload": example_payload(tree),
    }
