"""The scrape-time and ops-page queries on SQLite and PostgreSQL: backlog, oldest age, live
dead letters, and one request's trace."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.application.event_handlers.registry import HANDLERS, subscribers
from app.infrastructure.persistence import dead_letters
from app.infrastructure.persistence.backlog import (
    UNFINISHED_STATUSES,
    UNROUTABLE,
    handler_backlogs,
    live_dead_letters,
)
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import events, outbox
from app.infrastructure.persistence.traces import delivery, trace
from tests.support.fixtures import MakeDatabase, MakeEngine
from tests.support.relays import seed_pending_deliveries

REGISTERED = sorted(subscribers("user.registered"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backlog_dead_letters_and_trace(
    make_database: MakeDatabase, make_engine: MakeEngine, kind: str
) -> None:
    engine = make_engine(make_database(kind))
    ids = seed_pending_deliveries(engine, 3)
    first, second, third, fourth, fifth = ids[:5]
    with engine.begin() as conn:
        # The oldest unfinished one is an hour old; a done one (older still) never counts.
        conn.execute(
            outbox.update()
            .where(outbox.c.id == first)
            .values(created_at=utcnow() - timedelta(hours=1), status="dispatched")
        )
        conn.execute(
            outbox.update()
            .where(outbox.c.id == second)
            .values(created_at=utcnow() - timedelta(days=3), status="done")
        )
        conn.execute(outbox.update().where(outbox.c.id == fourth).values(status="running"))
        conn.execute(outbox.update().where(outbox.c.id == fifth).values(status="retry"))
        handler_of_third = conn.execute(
            sa.select(outbox.c.handler).where(outbox.c.id == third)
        ).scalar_one()
        dead_letters.record(
            conn,
            exc=RuntimeError("boom"),
            attempts=1,
            delivery_id=third,
            handler=handler_of_third,
            body=None,
        )
        dead_letters.record(
            conn, exc=RuntimeError("garbled"), attempts=1, delivery_id=None, handler=None, body=None
        )
        handler_of_first = conn.execute(
            sa.select(outbox.c.handler).where(outbox.c.id == first)
        ).scalar_one()

    with engine.connect() as conn:
        backlogs = {b.handler: b for b in handler_backlogs(conn, [s.name for s in HANDLERS])}
        dead = live_dead_letters(conn)
        correlation_id = conn.execute(
            sa.select(events.c.correlation_id).order_by(events.c.position).limit(1)
        ).scalar_one()
        chain, next_after = trace(conn, correlation_id)
        current = delivery(conn, third)

    assert set(backlogs) == {s.name for s in HANDLERS}, "every handler, zeros included"
    assert all(set(b.counts) == set(UNFINISHED_STATUSES) for b in backlogs.values())
    total = sum(b.total for b in backlogs.values())
    assert total == 3 * len(REGISTERED) - 2  # one done, one dead
    by_status = {s: sum(b.counts[s] for b in backlogs.values()) for s in UNFINISHED_STATUSES}
    assert by_status == {
        "pending": total - 3,
        "dispatched": 1,
        "running": 1,
        "retry": 1,
        "waiting": 0,
        "parked": 0,
    }
    assert backlogs[handler_of_first].counts["dispatched"] == 1
    assert 3590 <= backlogs[handler_of_first].oldest_age_seconds < 3 * 86400
    idle = [b for b in backlogs.values() if b.handler not in REGISTERED]
    assert idle and all((b.total, b.oldest_age_seconds) == (0, 0.0) for b in idle)
    assert dead == {handler_of_third: 1, UNROUTABLE: 1}

    [event] = chain
    assert next_after is None
    assert sorted(d.handler for d in event.deliveries) == REGISTERED
    assert event.occurred_at.tzinfo is not None
    assert current is not None and current.status == "dead" and current.last_error == "boom"
    with engine.connect() as conn:
        assert trace(conn, "no-such-correlation") == ([], None)
        assert delivery(conn, 10**12) is None
