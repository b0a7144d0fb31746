"""Stored payloads keep their meaning: every (type, version)'s schema is snapshotted, the
code's current versions match it, and every older version upcasts to the current one.

If a test here fails you changed an event's fields: bump its ``schema_version``, register
an upcaster from the previous version in ``app/infrastructure/envelope.py``, then run
``flask --app app events schema --write`` (which only ever adds versions). The snapshot's
other wire names are checked in ``test_wire_names_snapshot.py``.
"""

from datetime import UTC, datetime

import pytest

from app.application.wire_contract import SchemaChanged
from app.domain.events import EVENT_CLASSES
from app.domain.events.schema import payload_schema
from app.infrastructure.envelope import UPCASTERS, upcast
from app.infrastructure.messaging import schema_snapshot
from tests.unit.samples import sample

WHOLE = schema_snapshot.load()
SNAPSHOT = WHOLE["events"]


def old_versions() -> list[tuple[str, int]]:
    return [
        (event_type, int(version))
        for event_type, versions in SNAPSHOT.items()
        for version in versions
        if int(version) < EVENT_CLASSES[event_type].schema_version
    ]


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_the_current_payload_is_the_snapshotted_one(event_type: str) -> None:
    cls = EVENT_CLASSES[event_type]
    recorded = SNAPSHOT.get(event_type, {}).get(str(cls.schema_version))
    assert recorded is not None, (
        f"{event_type} v{cls.schema_version} is not in the snapshot: "
        "run `flask --app app events schema --write`"
    )
    assert payload_schema(cls) == recorded, (
        f"{event_type} v{cls.schema_version} changed without a version bump and an upcaster"
    )


def test_the_snapshot_keeps_every_version_of_every_type() -> None:
    assert set(SNAPSHOT) == set(EVENT_CLASSES)
    for event_type, versions in SNAPSHOT.items():
        current = EVENT_CLASSES[event_type].schema_version
        assert sorted(map(int, versions)) == list(range(1, current + 1)), event_type


@pytest.mark.parametrize(("event_type", "version"), old_versions())
def test_each_old_version_upcasts_to_the_next_and_then_decodes(
    event_type: str, version: int
) -> None:
    assert (event_type, version) in UPCASTERS, f"no upcaster from {event_type} v{version}"
    payload = sample(SNAPSHOT[event_type][str(version)])
    step = UPCASTERS[(event_type, version)](payload)
    assert set(step) == set(SNAPSHOT[event_type][str(version + 1)])

    current = upcast(event_type, version, payload)
    EVENT_CLASSES[event_type].from_payload(
        current,
        aggregate_id="a",
        aggregate_version=1,
        event_id="e",
        occurred_at=datetime.now(UTC),
    )


def test_old_orders_are_read_as_euros() -> None:
    v1 = sample(SNAPSHOT["order.created"]["1"])
    assert upcast("order.created", 1, v1) == {**v1, "currency": "EUR"}


def test_a_payload_changed_under_a_recorded_version_is_refused() -> None:
    tampered = {t: dict(v) for t, v in SNAPSHOT.items()}
    tampered["order.shipped"]["1"] = {"user_id": "string", "carrier": "string"}
    with pytest.raises(SchemaChanged, match=r"order.shipped v1 payload changed"):
        schema_snapshot.merged({**WHOLE, "events": tampered})


def test_writing_adds_versions_and_never_drops_old_ones() -> None:
    without_current = {t: dict(v) for t, v in SNAPSHOT.items()}
    del without_current["order.created"]["2"]
    assert schema_snapshot.merged({**WHOLE, "events": without_current}) == WHOLE
