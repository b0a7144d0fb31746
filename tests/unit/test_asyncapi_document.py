"""The event catalog is valid AsyncAPI 3.0.0 and says what the wire carries.

Validated against the official JSON Schema (``@asyncapi/specs``, installed by ``npm ci``);
every sample event, encoded as the publisher and the webhook sender encode it, is valid
against its message's schema, and so is a payload of every stored version in the wire
contract; a payload of the wrong shape is not.
"""

import copy
from datetime import datetime
from typing import Any

import pytest
from jsonschema.exceptions import best_match

from app.application.deliveries import idempotency_key
from app.application.event_handlers.registry import HANDLERS
from app.application.messages import EventMessage, MessageContext
from app.domain.events import EVENT_CLASSES
from app.infrastructure.envelope import Envelope, upcast
from app.infrastructure.messaging import asyncapi, schema_snapshot
from app.infrastructure.messaging.asyncapi import WEBHOOKS
from app.infrastructure.messaging.event_messages import message_id
from app.infrastructure.notifications.signature import sign
from tests.support.asyncapi_specs import asyncapi_validator, schema_validator
from tests.unit.samples import SAMPLE_EVENTS, sample

DOCUMENT = asyncapi.current()
CONTRACT = schema_snapshot.load()["events"]
MESSAGES: dict[str, Any] = DOCUMENT["components"]["messages"]
STORED_VERSIONS = [(t, int(v)) for t, versions in sorted(CONTRACT.items()) for v in versions]


def payload_errors(message: str, envelope: dict[str, Any]) -> str | None:
    """Why ``envelope`` is not valid for the message, or None."""
    validator = schema_validator(DOCUMENT, f"#/components/messages/{message}/payload")
    error = best_match(validator.iter_errors(envelope))
    return None if error is None else f"{error.json_path}: {error.message}"


def envelope_of(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    cls = EVENT_CLASSES[event_type]
    return {
        "event_id": "5f6b1c0e-8a4d-4f3e-9c2b-1a0d9e8f7c6b",
        "event_type": event_type,
        "schema_version": version,
        "aggregate_type": cls.aggregate_type,
        "aggregate_id": "0b5e8f0c-43a6-4c9f-8d0e-7a6b5c4d3e22",
        "aggregate_version": 3,
        "occurred_at": "2026-01-02T03:04:05.678901+00:00",
        "correlation_id": "request-1",
        "causation_id": "request-1",
        "payload": payload,
    }


def test_the_document_is_valid_asyncapi_3_0_0() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    error = best_match(asyncapi_validator().iter_errors(DOCUMENT))
    assert error is None, f"{error.json_path}: {error.message}"


def test_the_official_schema_is_really_applied() -> None:
    """A document the schema must refuse is refused: the validator is not vacuous."""
    broken = copy.deepcopy(DOCUMENT)
    broken["operations"][f"{WEBHOOKS}.post"]["action"] = "publish"  # AsyncAPI 2's word
    assert not asyncapi_validator().is_valid(broken)


def test_every_stored_event_type_and_version_has_its_message() -> None:
    assert set(MESSAGES) == {message_id(t, v) for t, v in STORED_VERSIONS}
    for event_type, cls in EVENT_CLASSES.items():
        assert message_id(event_type, cls.schema_version) in MESSAGES, event_type


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_each_sample_event_is_valid_for_its_message(event: Any) -> None:
    """Encoded exactly as the webhook sender and the publisher encode it."""
    message = EventMessage(event, MessageContext.root("request-1"))
    envelope = Envelope.of(message).to_dict()
    assert payload_errors(message_id(event.event_type, event.schema_version), envelope) is None


@pytest.mark.parametrize(("event_type", "version"), STORED_VERSIONS)
def test_a_payload_of_every_stored_version_is_valid_and_its_example_decodes(
    event_type: str, version: int
) -> None:
    message = message_id(event_type, version)
    stored = envelope_of(event_type, version, sample(CONTRACT[event_type][str(version)]))
    assert payload_errors(message, stored) is None
    example = MESSAGES[message]["examples"][0]["payload"]
    assert payload_errors(message, example) is None
    EVENT_CLASSES[event_type].from_payload(
        upcast(event_type, version, example["payload"]),
        aggregate_id=example["aggregate_id"],
        aggregate_version=example["aggregate_version"],
        event_id=example["event_id"],
        occurred_at=datetime.fromisoformat(example["occurred_at"]),
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e["payload"].update(total=25.99), "$.payload.total"),
        (lambda e: e["payload"]["items"][0].update(unit_price="12.5"), "unit_price"),
        (lambda e: e["payload"].update(carrier="DHL"), "$.payload"),
        (lambda e: e["payload"].pop("currency"), "$.payload"),
        (lambda e: e.update(schema_version=1), "$.schema_version"),
        (lambda e: e.pop("correlation_id"), "$"),
    ],
)
def test_a_message_of_another_shape_is_refused(change: Any, where: str) -> None:
    [order] = [e for e in SAMPLE_EVENTS if e.event_type == "order.created"]
    envelope = copy.deepcopy(Envelope.of(EventMessage(order, MessageContext.root("r"))).to_dict())
    change(envelope)
    problem = payload_errors("order.created.v2", envelope)
    assert problem is not None and where in problem, problem


def test_each_handler_task_carries_every_version_of_its_event_types() -> None:
    operations = DOCUMENT["operations"]
    for spec in HANDLERS:
        operation = operations[spec.task_name]
        assert operation["x-handler"] == spec.name
        assert DOCUMENT["channels"][spec.queue]["address"] == spec.queue
        assert operation["channel"] == {"$ref": f"#/channels/{spec.queue}"}
        wanted = {message_id(t, v) for t, v in STORED_VERSIONS if t in spec.event_types}
        carried = {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]}
        assert carried == wanted, spec.name
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{spec.queue}/messages/"), ref
    assert len(operations) == len(HANDLERS) + 1  # and the webhook POST


def test_the_webhook_posts_current_versions_with_the_headers_a_receiver_verifies() -> None:
    channel = DOCUMENT["channels"][WEBHOOKS]
    current = {message_id(t, c.schema_version) for t, c in EVENT_CLASSES.items()}
    assert set(channel["messages"]) == current
    [event] = [e for e in SAMPLE_EVENTS if e.event_type == "order.shipped"]
    body = Envelope.of(EventMessage(event, MessageContext.root("r"))).to_json()
    key = idempotency_key(event.event_id, "forward_to_webhooks")
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Event-Type": "order.shipped",
        "X-Outboxflow-Signature": sign(["old", "new"], 1767323045, key, "order.shipped", body),
    }
    pointer = "#/components/messages/order.shipped.v1/bindings/http/headers"
    assert best_match(schema_validator(DOCUMENT, pointer).iter_errors(headers)) is None
    forged = {**headers, "X-Event-Type": "order.cancelled"}
    assert not schema_validator(DOCUMENT, pointer).is_valid(forged)


def test_examples_are_the_same_at_every_build() -> None:
    """The committed copy can only stay equal to the served one if nothing varies."""
    assert asyncapi.dump(asyncapi.current()) == asyncapi.dump(DOCUMENT)
