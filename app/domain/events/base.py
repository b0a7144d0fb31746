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
            **_decode_fields(cls, payload, skip=_METADATA_FIELDS),
        )


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_money(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


@functools.cache
def _field_types(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """Type hints and field names of a dataclass, resolved once (resolving is slow)."""
    return typing.get_type_hints(cls), frozenset(f.name for f in dataclasses.fields(cls))


def _decode_fields(cls: type, data: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict:
    hints, fields = _field_types(cls)
    names = fields - skip
    unknown = set(data) - names
    missing = {n for n in names if n not in data}
    if unknown or missing:
        raise ValueError(
            f"{cls.__name__} payload mismatch: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return {name: _decode(hints[name], data[name]) for name in names}


def _decode(tp: Any, value: Any) -> Any:
    """Rebuild one field, refusing values of the wrong JSON type (ValueError)."""
    if tp is Decimal:
        if not isinstance(value, str):
            raise ValueError(f"expected a decimal string, got {value!r}")
        return Decimal(value)
    if tp in (str, int, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ValueError(f"expected {tp.__name__}, got {value!r}")
        return value
    if typing.get_origin(tp) is tuple:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        (item_type, _ellipsis) = typing.get_args(tp)
        return tuple(_decode(item_type, v) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object, got {value!r}")
        return tp(**_decode_fields(tp, value))
    raise TypeError(f"no decoder for field type {tp!r}")
