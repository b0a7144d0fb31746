"""The base every domain event derives from, and its payload codec.

Events are immutable facts. ``event_type`` and ``schema_version`` are the stable wire
names: never derive them from module or class names, never reuse an old one.
"""

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Self
from uuid import uuid4

from app.domain.money import format_money

_METADATA_FIELDS = frozenset({"aggregate_id", "aggregate_version", "event_id", "occurred_at"})


def metadata_fields() -> frozenset[str]:
    """The envelope's own fields, which every event has and no payload carries."""
    return _METADATA_FIELDS


def new_id() -> str:
    return str(uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str]

    aggregate_id: str
    aggregate_version: int
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)

    def payload(self) -> dict[str, Any]:
        """The event's own fields as JSON-ready data (money as decimal strings)."""
        return {
            f.name: _encode(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _METADATA_FIELDS
        }

    @classmethod
    def from_payload(
        cls,
        payload: dict[str, Any],
        *,
        aggregate_id: str,
        aggregate_version: int,
        event_id: str,
        occurred_at: datetime,
    ) -> Self:
        """Rebuild an event of the *current* schema version; upcast older payloads first."""
        return cls(
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            event_id=event_id,
            occurred_at=occurred_at,
            **_payload_decoder(cls)(payload),
        )


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_money(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


Decoder = typing.Callable[[Any], Any]


def _payload_decoder(cls: type) -> Decoder:
    """An event class's payload fields: all but the envelope's own."""
    return _fields_decoder(cls, _METADATA_FIELDS)


@functools.cache
def _fields_decoder(cls: type, skip: frozenset[str] = frozenset()) -> Decoder:
    """A function from a payload dict to ``cls``'s field values (those not in ``skip``).

    Type hints are resolved and a decoder chosen per field once per class (resolving is
    slow, and a rebuild decodes every stored event): decoding is then one call per field.
    """
    hints = typing.get_type_hints(cls)
    decoders = {
        f.name: _decoder(hints[f.name]) for f in dataclasses.fields(cls) if f.name not in skip
    }
    names = decoders.keys()

    def decode_fields(data: dict[str, Any]) -> dict[str, Any]:
        if data.keys() != names:
            unknown, missing = set(data) - set(names), set(names) - set(data)
            raise ValueError(
                f"{cls.__name__} payload mismatch: missing {sorted(missing)}, "
                f"unknown {sorted(unknown)}"
            )
        return {name: decode(data[name]) for name, decode in decoders.items()}

    return decode_fields


def _decoder(tp: Any) -> Decoder:
    """The function that rebuilds one field of type ``tp``, refusing values of the wrong
    JSON type (ValueError)."""
    if tp is Decimal:
        return _decimal
    if tp in (str, int, bool):
        return functools.partial(_exactly, tp)
    if typing.get_origin(tp) is tuple:
        (item_type, _ellipsis) = typing.get_args(tp)
        return functools.partial(_tuple_of, _decoder(item_type))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return functools.partial(_dataclass_of, tp, _fields_decoder(tp))
    raise TypeError(f"no decoder for field type {tp!r}")


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def _exactly(tp: type, value: Any) -> Any:
    if type(value) is not tp:
        raise ValueError(f"expected {tp.__name__}, got {value!r}")
    return value


def _tuple_of(item: Decoder, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {value!r}")
    return tuple(item(v) for v in value)


def _dataclass_of(tp: type, decode_fields: Decoder, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {value!r}")
    return tp(**decode_fields(value))
