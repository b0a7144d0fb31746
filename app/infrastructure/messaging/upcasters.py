"""Upcasters turn a stored payload of an old schema version into the next version.

Stored events are never rewritten; they are upcast each time they are read. Register
one function per (event type, from-version); chains run until the current version.
"""

from collections.abc import Callable
from typing import Any

from app.application.errors import UnknownEventType, UnsupportedSchemaVersion
from app.domain.events import EVENT_CLASSES
from app.domain.money import DEFAULT_CURRENCY

Payload = dict[str, Any]


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
