"""What the readable event catalog (``/api/asyncapi``) shows, read from the AsyncAPI document
(the page's template renders a ``Catalog``).

The page is a view of the served document, not a second description of the events: every
name, field, consumer and example on it comes out of ``asyncapi.current()``, so the two
cannot disagree.
"""

import json
from dataclasses import dataclass, replace
from typing import Any

from app.infrastructure.messaging.asyncapi import WEBHOOKS, Document
from app.infrastructure.messaging.event_schemas import DECIMAL

Schema = dict[str, Any]


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Consumer:
    handler: str
    task: str
    queue: str
    effect: str


@dataclass(frozen=True)
class Version:
    message_id: str
    title: str
    number: int
    current: bool
    summary: str
    description: str
    fields: list[Field]
    consumers: list[Consumer]
    to_webhooks: bool
    example: str


@dataclass(frozen=True)
class EventType:
    name: str
    aggregate_type: str
    versions: list[Version]
    """Newest first."""


@dataclass(frozen=True)
class Catalog:
    title: str
    description: list[str]
    envelope: list[Field]
    webhook_headers: list[Field]
    webhook_description: str
    queue_description: str
    events: list[EventType]
    handlers: list[tuple[Consumer, list[str]]]
    """Each handler with the event types it receives."""


def catalog(document: Document) -> Catalog:
    consumers, to_webhooks = _consumers(document)
    by_type: dict[str, dict[str, Any]] = {}
    for message_id, message in document["components"]["messages"].items():
        by_type.setdefault(message["name"], {})[message_id] = message
    events = []
    for name, messages in sorted(by_type.items()):
        versions = [
            _version(document, message_id, message, consumers, message_id in to_webhooks)
            for message_id, message in messages.items()
        ]
        newest = max(v.number for v in versions)
        versions = [replace(v, current=v.number == newest) for v in versions]
        aggregate_type = _own(next(iter(messages.values())))["aggregate_type"]["const"]
        events.append(EventType(name, aggregate_type, sorted(versions, key=lambda v: -v.number)))
    channels = document["channels"]
    queue = next(c for name, c in channels.items() if name != WEBHOOKS)
    return Catalog(
        title=document["info"]["title"],
        description=document["info"]["description"].split("\n\n"),
        envelope=_fields(document["components"]["schemas"]["Envelope"]),
        webhook_headers=_fields(_webhook_headers(document)),
        webhook_description=channels[WEBHOOKS]["description"],
        queue_description=queue["description"],
        events=events,
        handlers=_handlers(document, consumers),
    )


def _own(message: dict[str, Any]) -> Schema:
    """The properties a message pins on the envelope: its type, version, payload schema."""
    own: Schema = message["payload"]["allOf"][1]["properties"]
    return own


def _component(document: Document, ref: str) -> Any:
    """The object a local ``$ref`` (``#/a/b/c``) names."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _message_of(document: Document, channel_message_ref: str) -> str:
    """The component message id behind ``#/channels/<c>/messages/<m>``."""
    component_ref: str = _component(document, channel_message_ref)["$ref"]
    return component_ref.rsplit("/", 1)[1]


def _webhook_headers(document: Document) -> Schema:
    """The webhook messages' HTTP headers, a ``const`` kept only where all share it
    (``X-Event-Type`` is each message's own event type)."""
    refs = document["channels"][WEBHOOKS]["messages"].values()
    schemas = [_component(document, r["$ref"])["bindings"]["http"]["headers"] for r in refs]
    properties = {}
    for name, prop in schemas[0]["properties"].items():
        consts = {json.dumps(s["properties"][name].get("const")) for s in schemas}
        shared = len(consts) == 1
        properties[name] = {k: v for k, v in prop.items() if k != "const" or shared}
    return {**schemas[0], "properties": properties}


def _consumers(document: Document) -> tuple[dict[str, list[Consumer]], set[str]]:
    """Message id -> the handlers whose tasks carry it; the ids POSTed to webhooks."""
    consumers: dict[str, list[Consumer]] = {}
    to_webhooks: set[str] = set()
    for operation in document["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        ids = [_message_of(document, m["$ref"]) for m in operation["messages"]]
        if channel_ref == f"#/channels/{WEBHOOKS}":
            to_webhooks.update(ids)
            continue
        consumer = Consumer(
            handler=operation["x-handler"],
            task=operation["title"],
            queue=_component(document, channel_ref)["address"],
            effect=operation["x-effect"],
        )
        for message_id in ids:
            consumers.setdefault(message_id, []).append(consumer)
    return consumers, to_webhooks


def _handlers(
    document: Document, consumers: dict[str, list[Consumer]]
) -> list[tuple[Consumer, list[str]]]:
    messages = document["components"]["messages"]
    types: dict[Consumer, set[str]] = {}
    for message_id, handlers in consumers.items():
        for consumer in handlers:
            types.setdefault(consumer, set()).add(messages[message_id]["name"])
    return [(c, sorted(types[c])) for c in sorted(types, key=lambda c: (c.queue, c.handler))]


def _version(
    document: Document,
    message_id: str,
    message: dict[str, Any],
    consumers: dict[str, list[Consumer]],
    to_webhooks: bool,
) -> Version:
    own = _own(message)
    number = own["schema_version"]["const"]
    return Version(
        message_id=message_id,
        title=message["title"],
        number=number,
        current=False,
        summary=message["summary"],
        description=message.get("description", ""),
        fields=_fields(_component(document, own["payload"]["$ref"])),
        consumers=sorted(consumers.get(message_id, []), key=lambda c: c.handler),
        to_webhooks=to_webhooks,
        example=json.dumps(message["examples"][0]["payload"], indent=2, ensure_ascii=False),
    )


def _fields(schema: Schema, prefix: str = "") -> list[Field]:
    """One row per property, nested objects (and arrays of them) flattened as ``a[].b``."""
    rows: list[Field] = []
    for name, prop in schema.get("properties", {}).items():
        rows.append(Field(prefix + name, _type(prop), prop.get("description", "")))
        inner = prop.get("items", prop)
        if inner.get("type") == "object" and "properties" in inner:
            rows += _fields(inner, f"{prefix}{name}{'[]' if 'items' in prop else ''}.")
    return rows


def _type(schema: Schema) -> str:
    if "const" in schema:
        return f"{schema.get('type', '')} = {json.dumps(schema['const'])}".strip()
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema['items'])}"
    if schema.get("pattern") == DECIMAL["pattern"]:
        return "decimal string"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    if "pattern" in schema:
        return f"{kind} matching {schema['pattern']}"
    return str(kind)
