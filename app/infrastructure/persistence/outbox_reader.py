"""The outbox as operators read it (the ops page, ``/api/outbox/stats``, ``flask outbox
stats``): ``backlog``'s figures and ``traces``' chains over the read-only engine, so the
entry points ask the container's reader instead of opening connections themselves."""

from typing import Any

import sqlalchemy as sa

from app.application.event_handlers.subscriptions import Subscription, Subscriptions
from app.application.handler_overview import HandlerOverview
from app.infrastructure.persistence import backlog, handler_overview, traces
from app.infrastructure.persistence.backlog import HandlerBacklog, ParkedBehind, ParkedKeys
from app.infrastructure.persistence.traces import TracedDelivery, TracedEvent


class OutboxReader:
    UNFINISHED_STATUSES = backlog.UNFINISHED_STATUSES
    """The statuses of a delivery still on its way, in the order a page lists them."""

    def __init__(self, reader: sa.Engine) -> None:
        """``reader``: an engine for connections that only read (``database.read_only``)."""
        self._reader = reader

    def stats(self) -> dict[str, Any]:
        """Deliveries by status and handler, and the age of the oldest unfinished one."""
        with self._reader.connect() as conn:
            return backlog.outbox_stats(conn)

    def overview(self, handlers: list[str]) -> tuple[list[HandlerBacklog], dict[str, int]]:
        """Each handler's backlog and the live dead letters by handler, read together."""
        with self._reader.connect() as conn:
            return backlog.handler_backlogs(conn, handlers), backlog.live_dead_letters(conn)

    def parked_keys(self) -> dict[str, ParkedKeys]:
        """Per handler with parked deliveries: keys, deliveries, the oldest's age."""
        with self._reader.connect() as conn:
            return dict(sorted(backlog.parked_keys(conn).items()))

    def parked_behind(self, delivery_id: int) -> ParkedBehind | None:
        """The ordered key of a delivery and what is parked behind it (None: unordered)."""
        with self._reader.connect() as conn:
            return backlog.parked_behind(conn, delivery_id)

    def handlers(self, subscriptions: Subscriptions) -> list[HandlerOverview]:
        """Every handler: its subscription, enabled or why not, and its backlog."""
        with self._reader.connect() as conn:
            return handler_overview.overview(conn, subscriptions)

    def handler(self, subscription: Subscription) -> HandlerOverview:
        with self._reader.connect() as conn:
            return handler_overview.overview_of(conn, subscription)

    def delivery(self, delivery_id: int) -> TracedDelivery | None:
        with self._reader.connect() as conn:
            return traces.delivery(conn, delivery_id)

    def trace(self, correlation_id: str, *, after: int = 0) -> tuple[list[TracedEvent], int | None]:
        """One page of a request's chain of events with their deliveries (see ``traces``)."""
        with self._reader.connect() as conn:
            return traces.trace(conn, correlation_id, after=after)
