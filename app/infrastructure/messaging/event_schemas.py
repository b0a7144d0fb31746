"""JSON Schema for what travels on the wire: the envelope, and each payload in the wire contract.

The wire contract (``wire_contract.json``) names a payload field's type in a few words
(``"string"``, ``"decimal"``, ``[item]``, ``{fields}``, see ``app.domain.events.schema``);
``payload_schema`` spells them as JSON Schema draft 7, the dialect of AsyncAPI 3.0's Schema
Object. A payload is closed (``additionalProperties: false``, every field required) because
the decoder refuses any other shape: a new field is a new schema version. The envelope stays
open: its fields are declared once, on ``Envelope``, and read from there.
"""

import dataclasses
import typing
import uuid
from typing import Any

from app.domain.money import DEFAULT_CURRENCY
from app.infrastructure.envelope import Envelope

JsonSchema = dict[str, Any]

DECIMAL: JsonSchema = {
    "type": "string",
    "pattern": r"^-?[0-9]+\.[0-9]{2}$",
    "description": "A decimal amount as a string with two places (money is never a float).",
}
_SCALARS: dict[str, JsonSchema] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "decimal": DECIMAL,
}
_JSON_TYPES = {str: "string", int: "integer", dict: "object"}

ENVELOPE_FIELDS: dict[str, str] = {
    "event_id": "The event's id (a UUID): the same on every delivery and every retry of it.",
    "event_type": "The event's stable wire name, `<aggregate type>.<what happened>`.",
    "schema_version": "The version of `payload`'s fields: a change of fields is a new "
    "version, and a stored event keeps the version it was written with.",
    "aggregate_type": "The kind of aggregate that recorded the event.",
    "aggregate_id": "The id of the aggregate (the order, the user) the event belongs to.",
    "aggregate_version": "The event's position in its aggregate's stream: 1 for the "
    "aggregate's first event, one more for each next one. Order one aggregate's events by it.",
    "occurred_at": "When the event was recorded (ISO 8601, with its UTC offset).",
    "correlation_id": "The id of the request that started this chain of events: the same "
    "on every event and handler task that request caused.",
    "causation_id": "What directly caused this event: the request's correlation id, or the "
    "`event_id` of the event a handler reacted to.",
    "payload": "The event's own fields, as its message's schema says.",
}
"""A description of each ``Envelope`` field; ``envelope_schema`` refuses a field without one."""

_FORMATS = {"occurred_at": "date-time"}
_EXAMPLE_NAMESPACE = uuid.UUID("7a1f7c52-3c1e-4bd0-a3a5-8d1f0c3e9b10")


def payload_schema(tree: dict[str, Any]) -> JsonSchema:
    """A wire-contract payload (field name -> type words) as a closed JSON Schema object."""
    return {
        "type": "object",
        "properties": {name: _schema(kind) for name, kind in tree.items()},
        "required": sorted(tree),
        "additionalProperties": False,
    }


def _schema(kind: Any) -> JsonSchema:
    if isinstance(kind, list):
        (item,) = kind
        return {"type": "array", "items": _schema(item)}
    if isinstance(kind, dict):
        return payload_schema(kind)
    return dict(_SCALARS[kind])


def envelope_schema() -> JsonSchema:
    """Every ``Envelope`` field, required, with its JSON type and description."""
    hints = typing.get_type_hints(Envelope)
    names = [f.name for f in dataclasses.fields(Envelope)]
    undescribed = set(names) ^ set(ENVELOPE_FIELDS)
    if undescribed:
        raise KeyError(f"describe exactly the Envelope's fields in ENVELOPE_FIELDS: {undescribed}")
    properties: dict[str, JsonSchema] = {}
    for name in names:
        hint = hints[name]
        kind = _JSON_TYPES[typing.get_origin(hint) or hint]
        properties[name] = {"type": kind, "description": ENVELOPE_FIELDS[name]}
        if name in _FORMATS:
            properties[name]["format"] = _FORMATS[name]
    return {"type": "object", "properties": properties, "required": names}


def example_payload(tree: dict[str, Any]) -> dict[str, Any]:
    """A payload of this shape that the decoder accepts, the same at every call."""
    return {name: _example(name, kind) for name, kind in tree.items()}


def _example(name: str, kind: Any) -> Any:
    if isinstance(kind, list):
        return [_example(name, kind[0])]
    if isinstance(kind, dict):
        return example_payload(kind)
    if kind == "string":
        return _example_string(name)
    return {"integer": 1, "boolean": True, "decimal": "12.50"}[kind]


def _example_string(name: str) -> str:
    if name.endswith("_id"):
        return example_id(name)
    if name == "currency":
        return DEFAULT_CURRENCY
    return f"example {name.replace('_', ' ')}"


def example_id(name: str) -> str:
    """A UUID for an example field, derived from its name (so stable across runs)."""
    return str(uuid.uuid5(_EXAMPLE_NAMESPACE, name))
