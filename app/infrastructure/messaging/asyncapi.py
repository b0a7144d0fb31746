"""The event catalog: an AsyncAPI 3.0.0 document of every event we publish, and where.

Generated, never written by hand, from:

* the wire contract (``schema_snapshot``): every event type at every schema version that
  may be stored, each version's payload fields;
* the event classes and the handler registry: current versions, descriptions, and each
  handler's task name, queue and event types;
* the envelope (``Envelope``) and the webhook signature's headers (``signature``).

Its versions come from ``schema_snapshot.merged``, so the catalog refuses what the wire
contract refuses, with the same ``SchemaChanged``: a payload changed under a version that
is already recorded (bump the version, add an upcaster). ``docs/asyncapi.json`` is a
committed copy (``flask --app app events catalog --write``) held against the code by a test.
"""

import functools
import json
from pathlib import Path
from typing import Any

from app.application.deliveries import idempotency_key
from app.application.event_handlers.integrations import forward_to_webhooks
from app.application.event_handlers.registry import HANDLER_QUEUES, HANDLERS
from app.application.event_handlers.specs import HandlerSpec, by_aggregate
from app.domain.events import EVENT_CLASSES
from app.infrastructure.messaging import schema_snapshot
from app.infrastructure.messaging.event_messages import message, message_id
from app.infrastructure.messaging.event_schemas import envelope_schema, payload_schema

Document = dict[str, Any]

CATALOG_PATH = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
WEBHOOKS = "webhooks"
"""The channel (and the operation's prefix) of the signed partner webhooks."""


def _prose(text: str) -> str:
    """Paragraphs as single lines (markdown reads them so; JSON shows them whole)."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in text.split("\n\n"))


DESCRIPTION = _prose("""
Every event outboxflow records, at every schema version that may be stored, and where it is
published: a signed HTTP POST to each partner webhook (`WEBHOOK_URLS`), and one Celery task
per subscribed event handler, on that handler's queue.

Each message is an event envelope (`#/components/schemas/Envelope`): ids, the aggregate and
the event's position in it, correlation and causation; its `payload` field holds the event's
own fields, a closed schema per version. A change of fields is a new schema version: stored
events keep theirs, and the code upcasts them when it reads them.

Generated from the event classes and the wire contract: `/api/asyncapi.json`, readable at
`/api/asyncapi`.""")

QUEUE_DESCRIPTION = _prose("""
A Celery queue on the configured broker (Redis or RabbitMQ). Each message is a task named
`handlers.<handler>` (Celery protocol 2, JSON) whose body is
`[[], {"delivery_id": <outbox row id>, "envelope": <this message's payload>}, {}]`, with the
envelope as stored (any stored schema version). The worker takes only the envelope's
`event_id` from it and runs the stored event, upcast to its current version.""")

WEBHOOK_DESCRIPTION = _prose("""
A POST of the event envelope (current schema versions only) to each `WEBHOOK_URLS` entry,
signed for that entry's secrets. Answer 2xx. A 5xx, 408, 425, 429 or network failure is
retried with backoff and the same `Idempotency-Key`; any other 4xx dead-letters the delivery
(re-drivable). Deduplicate on `Idempotency-Key`.""")


@functools.cache
def current_json() -> str:
    """The code's catalog as served, built once per process (``dump`` of ``current``)."""
    return dump(current())


def current() -> Document:
    """The catalog of the code and the committed wire contract; SchemaChanged as
    ``schema_snapshot.merged`` raises it."""
    return build(schema_snapshot.merged(schema_snapshot.load()))


def dump(document: Document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def committed(path: Path | None = None) -> Document | None:
    """The committed copy (``CATALOG_PATH`` unless told), or None where there is none."""
    path = path or CATALOG_PATH
    if not path.exists():
        return None
    loaded: Document = json.loads(path.read_text())
    return loaded


def build(contract: schema_snapshot.Snapshot) -> Document:
    """The AsyncAPI document of a wire contract (``schema_snapshot.Snapshot``)."""
    versions = {
        event_type: sorted(map(int, by_version))
        for event_type, by_version in contract["events"].items()
    }
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": envelope_schema()}
    for event_type in sorted(versions):
        for version in versions[event_type]:
            tree = contract["events"][event_type][str(version)]
            schemas[message_id(event_type, version)] = payload_schema(tree)
            messages[message_id(event_type, version)] = message(
                event_type, version, tree, _webhook_key()
            )
    return {
        "asyncapi": "3.0.0",
        "id": "urn:outboxflow:events",
        "info": {"title": "outboxflow events", "version": "1", "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": _channels(versions),
        "operations": _operations(versions),
        "components": {"schemas": schemas, "messages": messages},
    }


def _webhook_handler() -> HandlerSpec:
    """The handler that POSTs to partner webhooks, found by its function (names may change)."""
    (spec,) = [spec for spec in HANDLERS if spec.external is forward_to_webhooks]
    return spec


def _webhook_key() -> str:
    return idempotency_key("<event_id>", _webhook_handler().name)


def _refs(event_types: frozenset[str], versions: dict[str, list[int]], channel: str) -> list[Any]:
    return [
        {"$ref": f"#/channels/{channel}/messages/{message_id(event_type, version)}"}
        for event_type in sorted(event_types)
        for version in versions[event_type]
    ]


def _channels(versions: dict[str, list[int]]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    webhook_types = _webhook_handler().event_types
    channels[WEBHOOKS] = {
        "address": None,
        "title": "Partner webhooks",
        "description": WEBHOOK_DESCRIPTION,
        "messages": {
            message_id(t, EVENT_CLASSES[t].schema_version): _component_ref(
                t, EVENT_CLASSES[t].schema_version
            )
            for t in sorted(webhook_types)
        },
    }
    for queue in HANDLER_QUEUES:
        event_types = {t for spec in HANDLERS if spec.queue == queue for t in spec.event_types}
        channels[queue] = {
            "address": queue,
            "title": f"Celery queue {queue}",
            "description": QUEUE_DESCRIPTION,
            "messages": {
                message_id(t, v): _component_ref(t, v)
                for t in sorted(event_types)
                for v in versions[t]
            },
        }
    return channels


def _component_ref(event_type: str, version: int) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{message_id(event_type, version)}"}


def _operations(versions: dict[str, list[int]]) -> dict[str, Any]:
    current = {t: [EVENT_CLASSES[t].schema_version] for t in versions}
    webhook = _webhook_handler()
    operations: dict[str, Any] = {
        f"{WEBHOOKS}.post": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{WEBHOOKS}"},
            "title": "POST each event to every partner webhook",
            "description": f"Sent by the handler `{webhook.name}`. {_delivery(webhook)}",
            "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
            "messages": _refs(webhook.event_types, current, WEBHOOKS),
        }
    }
    for spec in HANDLERS:
        operations[spec.task_name] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{spec.queue}"},
            "title": spec.task_name,
            "summary": f"One task per event for the handler `{spec.name}`.",
            "description": _delivery(spec),
            "messages": _refs(spec.event_types, versions, spec.queue),
            "x-handler": spec.name,
            "x-effect": spec.effect,
            "x-ordered": spec.ordered,
        }
    return operations


def _delivery(spec: HandlerSpec) -> str:
    if spec.transactional is not None:
        text = (
            "Exactly-once effect: the handler writes only this service's database, in the "
            "same transaction as its receipt, so a repeated task changes nothing."
        )
    else:
        text = (
            "At least once: the handler calls the outside world, then records its receipt, "
            f"passing the idempotency key `{idempotency_key('<event_id>', spec.name)}` "
            "(the same on every retry)."
        )
    if spec.max_attempts is not None:
        text += f" Dead-lettered after {spec.max_attempts} attempts."
    if spec.ordered_by is by_aggregate:
        text += (
            " Ordered by aggregate: one event of an aggregate at a time, in version order; a"
            " dead-lettered event holds back the aggregate's later ones until it is re-driven"
            " or skipped."
        )
    elif spec.ordered:
        text += (
            " Ordered by key: one event of a key at a time, in the store's order; a"
            " dead-lettered event holds back the key's later ones until it is re-driven"
            " or skipped."
        )
    if spec.requires:
        names = " and ".join(f"`{name}`" for name in spec.requires)
        text += f" Sent only while {names} {'is' if len(spec.requires) == 1 else 'are'} set."
    return text
