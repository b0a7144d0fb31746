"""The SQL unit of work: one connection, one transaction, committed only by ``commit``."""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

import sqlalchemy as sa

from app.application.messages import MessageContext
from app.application.ports import Committed, UnitOfWork
from app.infrastructure.persistence import outbox
from app.infrastructure.persistence.event_store import SqlEventStreams
from app.infrastructure.persistence.idempotency import IdempotencyRecord
from app.infrastructure.persistence.outbox import ClaimedDelivery
from app.infrastructure.persistence.read_models import SqlProjectionWriter
from app.infrastructure.persistence.receipts import SqlHandlerReceipts
from app.infrastructure.persistence.repositories import (
    EventSourcedOrderRepository,
    SqlOrderRepository,
    SqlUserRepository,
)


class ImmediateDispatch(Protocol):
    """Publishes a commit's deliveries right after it: eager mode only (tests), where that
    runs the handlers inline. Otherwise commands only write, and a relay publishes."""

    def dispatch_lease(self) -> timedelta | None:
        """How long rows written now stay leased to the publish after commit; None when
        that publish is paused (the rows are then left pending for the relay)."""

    def publish_committed(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        """Publish in one batch; never raises (on failure the rows go back to the relay)."""


class SqlUnitOfWork(UnitOfWork):
    users: SqlUserRepository
    orders: SqlOrderRepository

    def __init__(
        self,
        engine: sa.Engine,
        subscribers: Callable[[str], list[str]],
        dispatch: ImmediateDispatch | None = None,
        order_store: str = "state",
    ) -> None:
        """``subscribers``: the handlers to write a delivery for, per event type (the
        process's ``Subscriptions``: only the enabled ones). ``order_store``: ``state``
        loads orders from their rows, ``events`` folds them."""
        self._engine = engine
        self._subscribers = subscribers
        self._dispatch = dispatch
        self._order_store = order_store
        self._conn: sa.Connection | None = None
        self._tx: sa.RootTransaction | None = None

    def __enter__(self) -> UnitOfWork:
        self._conn = self._engine.connect()
        self._tx = self._conn.begin()
        self.users = SqlUserRepository(self._conn)
        self.events = self._streams = SqlEventStreams(self._conn)
        self.orders = (
            EventSourcedOrderRepository(self._conn, self._streams)
            if self._order_store == "events"
            else SqlOrderRepository(self._conn)
        )
        self.projections = SqlProjectionWriter(self._conn)
        self.receipts = SqlHandlerReceipts(self._conn)
        self.replies = self._replies = IdempotencyRecord(self._conn)
        return super().__enter__()

    def commit(self, context: MessageContext) -> Committed:
        """Write the recorded events (stamped with ``context``), their deliveries and the
        kept reply with the state; returns what it wrote."""
        assert self._tx is not None and self._conn is not None, "commit outside 'with uow:'"
        touched = [*self.users.seen, *self.orders.seen]
        new_events = [event for aggregate in touched for event in aggregate.pending_events]
        envelopes = self._streams.append(new_events, context)
        lease = self._dispatch.dispatch_lease() if self._dispatch and envelopes else None
        deliveries = outbox.append(
            self._conn,
            envelopes,
            self._subscribers,
            dispatch_lease=lease,
            positions=self._streams.positions,
        )
        self._replies.write(self._streams.last_position)
        self._tx.commit()
        for aggregate in touched:
            aggregate.pending_events.clear()
            aggregate.loaded_version = aggregate.version
        if lease is not None and deliveries and self._dispatch is not None:
            self._dispatch.publish_committed(deliveries)
        return Committed(self._streams.last_position, [d.delivery_id for d in deliveries])

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()
        if self._conn is not None:
            self._conn.close()
        self._tx = self._conn = None
