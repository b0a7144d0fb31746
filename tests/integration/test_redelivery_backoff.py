"""A row the relay publishes again waits twice as long each time before the next publish.

Without the doubling, a queue backlog longer than ``OUTBOX_REDELIVERY_SECONDS`` would be
re-sent once per period, each copy lengthening the backlog that caused it. The leases
are read back from the database itself, on SQLite and on PostgreSQL, so the ``CASE`` over
``dispatch_count`` is checked on each dialect. Both timestamps come from one clock reading,
so the lease lengths are exact.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence import outbox as outbox_queries
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import outbox
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine
from tests.support.relays import seed_pending_deliveries

BASE = timedelta(seconds=60)


def _publish_round(engine: sa.Engine, ids: list[int], token: str) -> dict[int, tuple[int, float]]:
    """Expire every lease, claim and mark all rows; return (dispatch_count, lease seconds)."""
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id.in_(ids)).values(lease_until=None))
        claimed = outbox_queries.claim(
            conn, token=token, lease=timedelta(seconds=30), limit=len(ids), ids=ids
        )
        assert sorted(d.delivery_id for d in claimed) == sorted(ids)
        outbox_queries.mark_dispatched(conn, ids, token=token, redelivery_after=BASE)
        rows = conn.execute(
            sa.select(
                outbox.c.id, outbox.c.dispatch_count, outbox.c.dispatched_at, outbox.c.lease_until
            ).where(outbox.c.id.in_(ids))
        )
        return {
            r.id: (
                r.dispatch_count,
                (as_utc(r.lease_until) - as_utc(r.dispatched_at)).total_seconds(),
            )
            for r in rows
        }


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_each_republish_doubles_the_lease_up_to_eight_times(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    engine = make_engine(make_database(db))
    ids = seed_pending_deliveries(engine, 2)
    seen = [_publish_round(engine, ids, f"relay-{n}") for n in range(6)]
    for n, by_row in enumerate(seen):
        factor = 2 ** min(n, outbox_queries.REDELIVERY_DOUBLINGS)
        expected = BASE.total_seconds() * factor
        assert set(by_row.values()) == {(n + 1, expected)}, n


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_rows_keep_their_own_doubling(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    """One batch may mix first publishes and re-publishes: each row gets its own lease."""
    engine = make_engine(make_database(db))
    veteran, *newcomers = seed_pending_deliveries(engine, 1)
    for n in range(2):
        _publish_round(engine, [veteran], f"early-{n}")
    mixed = _publish_round(engine, [veteran, *newcomers], "mixed")
    assert mixed[veteran] == (3, 4 * BASE.total_seconds())
    for row in newcomers:
        assert mixed[row] == (1, BASE.total_seconds())
