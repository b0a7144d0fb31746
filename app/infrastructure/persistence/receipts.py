"""Handler receipts: the idempotency record written in the handler's own transaction."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.infrastructure.persistence import attempts
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import handler_receipts

_CLAIM = {
    dialect: attempts.receipt_insert(insert).returning(handler_receipts.c.event_id)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
"""Built once per dialect (see ``attempts`` for why)."""


class SqlHandlerReceipts:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def claim(self, event_id: str, handler: str) -> bool:
        """Insert the receipt first thing, so a concurrent duplicate waits on it and then skips."""
        inserted = self._conn.execute(
            _CLAIM[self._conn.dialect.name],
            {"receipt_event_id": event_id, "receipt_handler": handler, "applied_at": utcnow()},
        ).first()
        # RETURNING, not rowcount: psycopg 3 under SQLAlchemy 2.1 reports -1 here.
        return inserted is not None

    def already_applied(self, event_id: str, handler: str) -> bool:
        return already_applied(self._conn, event_id, handler)

    def mark_delivery_done(self, delivery_id: int) -> None:
        attempts.mark_done(self._conn, delivery_id)


def already_applied(conn: sa.Connection, event_id: str, handler: str) -> bool:
    return (
        conn.execute(
            sa.select(sa.literal(1)).where(
                handler_receipts.c.event_id == event_id, handler_receipts.c.handler == handler
            )
        ).first()
        is not None
    )
