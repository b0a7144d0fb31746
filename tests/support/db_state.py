"""Reading database state in assertions: whole tables, the event store, row counts."""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from app.domain.events import UserRegistered
from app.infrastructure.persistence.tables import events, outbox


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


def repair_event_payload(engine: sa.Engine, event_id: str, payload: dict[str, Any]) -> None:
    """An operator's deliberate repair of a stored event, past the append-only triggers.

    The guard is lifted inside the repairing transaction only: PostgreSQL disables the
    table's user triggers, SQLite drops its triggers and recreates them from their own
    stored definitions before the commit.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
            triggers: list[tuple[str, str]] = []
        else:
            triggers = [
                (name, sql)
                for name, sql in conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'events'"
                )
            ]
            for name, _sql in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.execute(events.update().where(events.c.event_id == event_id).values(payload=payload))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")
        for _name, sql in triggers:
            conn.exec_driver_sql(sql)


def store_raw_event(
    conn: sa.Connection,
    *,
    payload: dict[str, Any],
    handlers: Iterable[str] = (),
    done: Iterable[str] = (),
    event_type: str = "order.created",
    schema_version: int = 1,
    event_id: str | None = None,
    aggregate_id: str | None = None,
    correlation_id: str = "c",
) -> str:
    """An event row as some earlier (or broken) writer stored it, with a delivery per
    handler (``pending``, or ``done`` for those in ``done``): what the code under test must
    cope with, written around it. Returns the event id."""
    event_id = event_id or str(uuid4())
    now = datetime.now(UTC)
    conn.execute(
        events.insert().values(
            event_id=event_id,
            event_type=event_type,
            schema_version=schema_version,
            aggregate_type=event_type.split(".", 1)[0],
            aggregate_id=aggregate_id or str(uuid4()),
            aggregate_version=1,
            payload=payload,
            correlation_id=correlation_id,
            causation_id=correlation_id,
            occurred_at=now,
        )
    )
    finished = set(done)
    rows = [
        {
            "event_id": event_id,
            "handler": handler,
            "status": "done" if handler in finished else "pending",
            "available_at": now,
            "created_at": now,
        }
        for handler in handlers
    ]
    if rows:
        conn.execute(outbox.insert(), rows)
    return event_id


def begin_late_event(engine: sa.Engine) -> tuple[sa.Connection, str]:
    """A transaction that stores a ``user.registered`` event (its position allocated now)
    and stays open, as a command of a process without the handler would: a hole that a
    backfill reads past. The caller commits it (and closes the connection)."""
    conn = engine.connect()
    conn.begin()
    event = UserRegistered(
        aggregate_id=str(uuid4()), aggregate_version=1, email="late@example.com", name="L"
    )
    conn.execute(
        events.insert(),
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "aggregate_version": 1,
            "payload": event.payload(),
            "correlation_id": "late",
            "causation_id": "late",
            "occurred_at": event.occurred_at,
        },
    )
    return conn, event.event_id
