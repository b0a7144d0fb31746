"""Projection checkpoints: how far through the global event order a projection has got.

Deliveries complete out of order, so a projection's checkpoint is the highest position
*below which every one of its deliveries is done*: one less than the position of its
oldest unfinished delivery (or the store's last position when none is unfinished). A
dead delivery holds the checkpoint back until it is re-driven: the projection really
has not applied that event.
"""

import time
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from app.application.errors import PositionNotWritten
from app.infrastructure.persistence.delivery_states import NOT_DONE_YET
from app.infrastructure.persistence.tables import events, outbox

NOTIFY_CHANNEL = "outbox_done"
"""PostgreSQL: the migrations' trigger notifies it whenever a delivery becomes done."""
POLL_SECONDS = 0.02
RECHECK_SECONDS = 0.5
"""PostgreSQL: re-check this often even without a notification (a belt to the braces)."""


def _first_unfinished(handlers: Collection[str]) -> sa.Select[Any]:
    return (
        sa.select(sa.func.min(events.c.position))
        .select_from(outbox.join(events, events.c.event_id == outbox.c.event_id))
        .where(outbox.c.handler.in_(handlers), NOT_DONE_YET)
    )


class ProjectionCheckpoints:
    def __init__(self, engine: sa.Engine, *, listening: sa.Engine | None = None) -> None:
        """``listening``: where to LISTEN, a connection that is a session (default ``engine``)."""
        self._engine = engine
        self._listening = engine if listening is None else listening

    def checkpoint(self, handlers: Collection[str]) -> int:
        """The highest position up to which every delivery to ``handlers`` is done."""
        with self._engine.connect() as conn:
            return self._checkpoint(conn, handlers)

    def wait(self, position: int, handlers: Collection[str], timeout: float) -> bool:
        """Wait until ``handlers`` applied every event up to ``position``; False on timeout.

        Raises ``PositionNotWritten`` at once when ``position`` is past the store's newest
        event: nobody was told of a position before its commit, so waiting would only hold
        a web worker for the whole timeout.
        """
        deadline = time.monotonic() + timeout
        with self._engine.connect() as conn:
            if self._checkpoint(conn, handlers) >= position:
                return True
            newest = self._newest(conn)
            if position > newest:
                raise PositionNotWritten(position, newest)
        if self._engine.dialect.name == "postgresql":
            return self._wait_notified(position, handlers, deadline)
        while True:
            if self.checkpoint(handlers) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(POLL_SECONDS, remaining))

    def _wait_notified(self, position: int, handlers: Collection[str], deadline: float) -> bool:
        with self._listening.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"LISTEN {NOTIFY_CHANNEL}")
            try:
                listener = conn.connection.driver_connection
                assert listener is not None
                while self._checkpoint(conn, handlers) < position:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    for _ in listener.notifies(
                        timeout=min(remaining, RECHECK_SECONDS), stop_after=1
                    ):
                        pass
                return True
            finally:
                conn.exec_driver_sql(f"UNLISTEN {NOTIFY_CHANNEL}")

    @staticmethod
    def _checkpoint(conn: sa.Connection, handlers: Collection[str]) -> int:
        first = conn.execute(_first_unfinished(handlers)).scalar_one()
        if first is not None:
            return int(first) - 1
        return ProjectionCheckpoints._newest(conn)

    @staticmethod
    def _newest(conn: sa.Connection) -> int:
        """The newest committed event's position (0 for an empty store): one index probe."""
        return int(conn.execute(sa.select(sa.func.max(events.c.position))).scalar_one() or 0)
