"""The payload schema of an event class: field names and JSON types, nested for line items.

A stored event's payload must keep meaning what it meant when it was written, so each
(type, version)'s schema is snapshotted (``app/infrastructure/messaging/wire_contract.json``,
written by ``flask events schema --write``) and a test compares the code against it.
"""

import dataclasses
import typing
from decimal import Decimal
from typing import Any

from app.domain.events.base import DomainEvent, metadata_fields

SchemaTree = dict[str, Any]
"""Field name -> "string" | "integer" | "boolean" | "decimal" | [item schema] | {fields}."""

_SCALARS = {str: "string", int: "integer", bool: "boolean", Decimal: "decimal"}


def payload_schema(event_class: type[DomainEvent]) -> SchemaTree:
    return _fields(event_class, skip=metadata_fields())


def _fields(cls: type, skip: frozenset[str] = frozenset()) -> SchemaTree:
    hints = typing.get_type_hints(cls)
    return {
        f.name: _type(hints[f.name])
        for f in sorted(dataclasses.fields(cls), key=lambda f: f.name)
        if f.name not in skip
    }


def _type(tp: Any) -> Any:
    if tp in _SCALARS:
        return _SCALARS[tp]
    if typing.get_origin(tp) is tuple:
        item_type, _ellipsis = typing.get_args(tp)
        return [_type(item_type)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _fields(tp)
    raise TypeError(f"no schema name for field type {tp!r}")
