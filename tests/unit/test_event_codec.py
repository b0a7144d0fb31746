import json
from decimal import Decimal
from typing import Any

import pytest

from app.domain.events import EVENT_CLASSES, DomainEvent, OrderCreated, PaymentProcessed
from tests.unit.samples import SAMPLE_EVENTS


def test_the_samples_cover_every_event_class() -> None:
    assert {type(e) for e in SAMPLE_EVENTS} == set(EVENT_CLASSES.values())


def _rebuild(event: DomainEvent, payload: dict[str, Any]) -> DomainEvent:
    return type(event).from_payload(
        payload,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
    )


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_payload_round_trips_through_json(event: DomainEvent) -> None:
    wire = json.loads(json.dumps(event.payload()))
    assert _rebuild(event, wire) == event


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_payload_holds_only_the_events_own_fields(event: DomainEvent) -> None:
    payload = event.payload()
    assert not {"aggregate_id", "aggregate_version", "event_id", "occurred_at"} & set(payload)


def test_money_is_a_decimal_string_on_the_wire() -> None:
    created = next(e for e in SAMPLE_EVENTS if isinstance(e, OrderCreated))
    payload = created.payload()
    assert payload["total"] == "25.99"
    assert payload["items"] == [
        {"sku": "book", "quantity": 2, "unit_price": "12.50"},
        {"sku": "pen", "quantity": 1, "unit_price": "0.99"},
    ]
    rebuilt = _rebuild(created, payload)
    assert isinstance(rebuilt, OrderCreated)
    assert isinstance(rebuilt.total, Decimal)
    assert isinstance(rebuilt.items, tuple)
    assert isinstance(rebuilt.items[0].unit_price, Decimal)


def test_from_payload_refuses_missing_and_unknown_fields() -> None:
    paid = next(e for e in SAMPLE_EVENTS if isinstance(e, PaymentProcessed))
    with pytest.raises(ValueError, match=r"missing \['amount'\]"):
        _rebuild(paid, {"user_id": paid.user_id})
    with pytest.raises(ValueError, match=r"unknown \['tip'\]"):
        _rebuild(paid, {**paid.payload(), "tip": "1.00"})


def test_events_are_immutable() -> None:
    event = SAMPLE_EVENTS[0]
    with pytest.raises(AttributeError):
        event.aggregate_version = 9  # type: ignore[misc]


def test_each_event_gets_its_own_id() -> None:
    a = PaymentProcessed(aggregate_id="o", aggregate_version=2, user_id="u", amount=Decimal(1))
    b = PaymentProcessed(aggregate_id="o", aggregate_version=2, user_id="u", amount=Decimal(1))
    assert a.event_id != b.event_id
    assert a.occurred_at.tzinfo is not None
