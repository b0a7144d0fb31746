"""Aggregates record events; the unit of work persists them. Aggregates never publish."""

from typing import Any, TypeVar

from app.domain.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)


class Aggregate:
    def __init__(self, aggregate_id: str, version: int) -> None:
        self.id = aggregate_id
        self.version = version
        self.loaded_version = version
        self.pending_events: list[DomainEvent] = []

    def _record(self, event_class: type[E], **fields: Any) -> E:
        self.version += 1
        event = event_class(aggregate_id=self.id, aggregate_version=self.version, **fields)
        self.pending_events.append(event)
        return event
