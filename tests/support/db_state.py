"""Reading database state in assertions: whole tables, the event store, row counts."""

from collections import Counter
from typing import Any

import sqlalchemy as sa

from app.infrastructure.persistence.tables import events


def table_rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    """Every row as a dict, in primary-key order (comparable across snapshots)."""
    with engine.connect() as conn:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [dict(row._mapping) for row in conn.execute(query)]


def count_rows(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def stored_events(engine: sa.Engine) -> list[dict[str, Any]]:
    """The event store in position order."""
    with engine.connect() as conn:
        query = sa.select(events).order_by(events.c.position)
        return [dict(row._mapping) for row in conn.execute(query)]


def event_type_counts(engine: sa.Engine) -> Counter[str]:
    return Counter(e["event_type"] for e in stored_events(engine))
