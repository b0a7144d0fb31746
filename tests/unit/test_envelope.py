import json
from typing import Any

import pytest

from app.application.errors import (
    CorruptMessage,
    UnknownEventType,
    UnprocessableMessage,
    UnsupportedSchemaVersion,
)
from app.application.messages import EventMessage, MessageContext
from app.domain.events import UserRegistered
from app.infrastructure.envelope import Envelope
from tests.unit.samples import SAMPLE_EVENTS, USER

FIELDS = {
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "payload",
}


def _envelope(index: int = 0) -> dict[str, Any]:
    message = EventMessage(SAMPLE_EVENTS[index], MessageContext("corr-1", "cause-1"))
    return Envelope.of(message).to_dict()


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_envelope_round_trips_every_event(event: Any) -> None:
    message = EventMessage(event, MessageContext("corr-1", "cause-1"))
    wire = json.loads(Envelope.of(message).to_json())
    assert set(wire) == FIELDS
    assert (wire["event_type"], wire["schema_version"]) == (event.event_type, event.schema_version)
    assert wire["aggregate_type"] == event.aggregate_type
    assert Envelope.from_dict(wire).to_message() == message


def test_to_json_is_compact_and_sorted() -> None:
    body = Envelope.from_dict(_envelope()).to_json()
    assert json.loads(body) == _envelope()
    assert body == json.dumps(_envelope(), separators=(",", ":"), sort_keys=True).encode()


@pytest.mark.parametrize("data", [None, [], "envelope", 42])
def test_from_dict_refuses_a_non_object(data: object) -> None:
    with pytest.raises(CorruptMessage, match="must be an object"):
        Envelope.from_dict(data)


@pytest.mark.parametrize("missing", sorted(FIELDS))
def test_from_dict_names_a_missing_field(missing: str) -> None:
    data = _envelope()
    del data[missing]
    with pytest.raises(CorruptMessage, match=f"missing {missing}"):
        Envelope.from_dict(data)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("event_id", 5),
        ("schema_version", "2"),
        ("schema_version", True),
        ("aggregate_version", 1.0),
        ("aggregate_version", None),
        ("payload", []),
        ("payload", "{}"),
        ("occurred_at", 0),
        ("correlation_id", None),
    ],
)
def test_from_dict_refuses_wrong_types(key: str, value: object) -> None:
    data = {**_envelope(), key: value}
    with pytest.raises(CorruptMessage, match=f"field {key} must be"):
        Envelope.from_dict(data)


def test_a_version_1_user_registered_with_full_name_is_upcast() -> None:
    data = {
        **_envelope(),
        "schema_version": 1,
        "payload": {"email": "ada@x.io", "full_name": "Ada Lovelace"},
    }
    event = Envelope.from_dict(data).to_message().event
    assert isinstance(event, UserRegistered)
    assert (event.email, event.name, event.aggregate_id) == ("ada@x.io", "Ada Lovelace", USER)


def test_unknown_event_type_is_unprocessable() -> None:
    data = {**_envelope(), "event_type": "user.teleported"}
    with pytest.raises(UnknownEventType, match=r"user\.teleported"):
        Envelope.from_dict(data).to_message()


@pytest.mark.parametrize("index", range(len(SAMPLE_EVENTS)))
def test_a_schema_version_newer_than_the_code_is_unsupported(index: int) -> None:
    data = _envelope(index)
    data["schema_version"] += 1
    with pytest.raises(UnsupportedSchemaVersion, match="newer than this code"):
        Envelope.from_dict(data).to_message()


@pytest.mark.parametrize("version", [0, -1])
def test_a_schema_version_without_upcaster_is_unsupported(version: int) -> None:
    data = {**_envelope(3), "schema_version": version}
    with pytest.raises(UnsupportedSchemaVersion, match="no upcaster"):
        Envelope.from_dict(data).to_message()


@pytest.mark.parametrize(
    ("index", "payload_patch"),
    [
        (0, {"nickname": "x"}),
        (3, {"items": 5}),
        (3, {"items": ["book"]}),
        (3, {"items": [{"sku": "a", "quantity": 1}]}),
        (3, {"total": "twelve"}),
        (4, {"amount": [1]}),
    ],
)
def test_a_payload_that_does_not_decode_is_corrupt(
    index: int, payload_patch: dict[str, Any]
) -> None:
    data = _envelope(index)
    data["payload"] = {**data["payload"], **payload_patch}
    with pytest.raises(CorruptMessage, match="payload does not decode"):
        Envelope.from_dict(data).to_message()


def test_a_bad_timestamp_is_corrupt() -> None:
    data = {**_envelope(), "occurred_at": "yesterday"}
    with pytest.raises(CorruptMessage):
        Envelope.from_dict(data).to_message()


def test_a_version_1_payload_without_full_name_is_corrupt_not_a_crash() -> None:
    """The upcaster meets the same bad input as the decoder: it must be permanent too."""
    data = {**_envelope(), "schema_version": 1, "payload": {"email": "ada@x.io"}}
    with pytest.raises(CorruptMessage):
        Envelope.from_dict(data).to_message()


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [(1, "points", "25"), (1, "balance", None), (0, "email", 42), (6, "was_paid", "yes")],
)
def test_payload_fields_of_the_wrong_type_are_corrupt(
    index: int, field: str, value: object
) -> None:
    """A wrong-typed field must be refused at decode, not blow up later inside a handler."""
    data = _envelope(index)
    data["payload"] = {**data["payload"], field: value}
    with pytest.raises(CorruptMessage):
        Envelope.from_dict(data).to_message()


def test_every_decoding_error_is_permanent() -> None:
    for error in (CorruptMessage, UnknownEventType, UnsupportedSchemaVersion):
        assert issubclass(error, UnprocessableMessage)
