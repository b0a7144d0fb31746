"""The sharded counters of done deliveries, so stats never scan the retained done rows.

Marking a row done counts it up in the same transaction, and the retention purge counts
it down in the purge's, so the counters always match the done rows the outbox holds.
"""

from collections.abc import Iterable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.infrastructure.persistence.tables import outbox_done_counts

DONE_COUNT_SHARDS = 16
"""Must match the migration that created ``outbox_done_counts``."""


def shard_of(delivery_id: int) -> int:
    return delivery_id % DONE_COUNT_SHARDS


DialectInsert = TypeVar("DialectInsert", postgresql.Insert, sqlite.Insert)


def _count_up(insert: DialectInsert) -> DialectInsert:
    return insert.on_conflict_do_update(
        index_elements=["handler", "shard"],
        set_={"done": outbox_done_counts.c.done + insert.excluded.done},
    )


def count_up_from(marked: sa.CTE) -> postgresql.Insert:
    """PostgreSQL: add one for each handler the ``marked`` CTE returns, bound ``shard``."""
    return _count_up(
        postgresql.insert(outbox_done_counts).from_select(
            ["handler", "shard", "done"],
            sa.select(
                marked.c.handler,
                sa.bindparam("shard", type_=sa.SmallInteger),
                sa.literal(1, sa.BigInteger),
            ),
        )
    )


COUNT_ONE_SQLITE = _count_up(
    sqlite.insert(outbox_done_counts).values(
        handler=sa.bindparam("handler"), shard=sa.bindparam("shard"), done=1
    )
)
"""SQLite: add one for the bound ``handler`` and ``shard``."""


def count_down(conn: sa.Connection, deleted: Iterable[tuple[int, str]]) -> None:
    """Lower the counters for deleted done rows given as (delivery id, handler)."""
    purged: dict[tuple[str, int], int] = {}
    for delivery_id, handler in deleted:
        key = (handler, shard_of(delivery_id))
        purged[key] = purged.get(key, 0) + 1
    for (handler, shard), count in purged.items():
        conn.execute(
            outbox_done_counts.update()
            .where(outbox_done_counts.c.handler == handler, outbox_done_counts.c.shard == shard)
            .values(done=outbox_done_counts.c.done - count)
        )


def per_handler(conn: sa.Connection) -> dict[str, int]:
    """Done rows held per handler (handlers whose count is zero left out)."""
    rows = conn.execute(
        sa.select(outbox_done_counts.c.handler, sa.func.sum(outbox_done_counts.c.done)).group_by(
            outbox_done_counts.c.handler
        )
    )
    return {handler: int(done) for handler, done in rows if done}
