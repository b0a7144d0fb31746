"""Seed PostgreSQL with the outbox a long-running deployment holds: the equivalent of
hundreds of thousands or millions of deliveries, written by the server in seconds.

History is written by ``INSERT … SELECT generate_series``: order aggregates of three events
each (created, payment processed, shipped), three deliveries per event (the order
projection, the ordered webhook forwarder, the event's e-mail), all ``done`` except a
sprinkling of ``dead`` e-mails and ``skipped`` webhook deliveries with their dead letters.
The open backlog comes last, the same whatever the history's size: pending, dispatched,
running and retrying deliveries, and ordered keys waiting behind one in flight or parked
behind a dead one, as the relay and the workers leave them.

The done counters are brought in step with the rows, and the tables vacuumed and analysed
as a settled deployment's are. Foreign keys and triggers are switched off for the bulk
insert (``session_replication_role``; the rows are consistent by construction), so the
database must be one of the test's own: ``make_database("postgresql")``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.infrastructure.persistence.done_counts import DONE_COUNT_SHARDS
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import dead_letters, events, outbox

EVENTS_PER_KEY = 3
DELIVERIES_PER_EVENT = 3
EVENT_TYPES = ("order.created", "order.payment_processed", "order.shipped")
EMAILS = ("send_order_confirmation", "send_payment_receipt", "send_shipping_notice")
PROJECTION, WEBHOOKS = "project_order_summary", "forward_to_webhooks"
HISTORY_SPAN = timedelta(hours=48)
"""How far back the done history reaches: inside the default retention (72 hours)."""
LEASE = timedelta(minutes=10)
"""How long the backlog's dispatched and running rows are leased, and retries wait."""


@dataclass(frozen=True)
class OutboxMix:
    """What to seed. ``deliveries`` counts every outbox row, the backlog's included."""

    deliveries: int
    dead: int = 0
    """Dead e-mail deliveries spread through the history (each with its dead letter)."""
    skipped: int = 0
    """Skipped webhook deliveries spread through the history (dead letters skipped)."""
    backlog_keys: int = 200
    """Order keys whose nine deliveries are all still open, newest of all."""

    @property
    def backlog(self) -> int:
        return self.backlog_keys * EVENTS_PER_KEY * DELIVERIES_PER_EVENT

    @property
    def history_events(self) -> int:
        per_key = EVENTS_PER_KEY * DELIVERIES_PER_EVENT
        return max(0, (self.deliveries - self.backlog) // per_key) * EVENTS_PER_KEY


def seed_outbox(engine: sa.Engine, mix: OutboxMix) -> None:
    """Write ``mix`` into the (migrated, empty) database behind ``engine``."""
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        _history(conn, mix)
        _backlog(conn, mix)
        _dead_letters(conn)
        _done_counts(conn)
    settle_tables(engine)


def settle_tables(engine: sa.Engine) -> None:
    """VACUUM ANALYZE what the seed wrote, as autovacuum leaves a settled database."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in (events, outbox, dead_letters):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")


def insert_events(
    conn: sa.Connection, first: int, count: int, start: datetime, step: timedelta
) -> None:
    """Events ``first`` … ``first + count - 1``, three per key in order, ``step`` apart."""
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    conn.exec_driver_sql(
        "INSERT INTO events (event_id, event_type, schema_version, aggregate_type,"
        " aggregate_id, aggregate_version, payload, correlation_id, causation_id, occurred_at)"
        " SELECT md5('event-' || n)::uuid::text,"
        f" (ARRAY[{types}])[mod(n, 3) + 1], 1, 'order', md5('order-' || n / 3)::uuid::text,"
        " mod(n, 3) + 1, jsonb_build_object('order_id', md5('order-' || n / 3)::uuid::text,"
        " 'amount', '12.50', 'currency', 'EUR'),"
        " md5('request-' || n / 3)::uuid::text, md5('request-' || n / 3)::uuid::text,"
        " %(start)s + (n - %(first)s::bigint) * %(step)s"
        " FROM generate_series(%(first)s::bigint, %(first)s::bigint + %(count)s::bigint - 1)"
        " AS n ORDER BY n",
        {"first": first, "count": count, "start": start, "step": step},
    )


def _handler_sql() -> str:
    emails = " ".join(f"WHEN '{t}' THEN '{e}'" for t, e in zip(EVENT_TYPES, EMAILS, strict=True))
    return (
        f"CASE h.i WHEN 0 THEN '{PROJECTION}' WHEN 1 THEN '{WEBHOOKS}'"
        f" ELSE CASE e.event_type {emails} END END"
    )


def _every(events: int, wanted: int) -> int:
    """One event in how many gets the rare status (0: none does)."""
    return max(1, events // wanted) if wanted else 0


def _history(conn: sa.Connection, mix: OutboxMix) -> None:
    count = mix.history_events
    if not count:
        return
    insert_events(conn, 0, count, utcnow() - HISTORY_SPAN, HISTORY_SPAN / count)
    dead_every, skipped_every = _every(count, mix.dead), _every(count, mix.skipped)
    dead = f"h.i = 2 AND mod(e.position, {dead_every}) = 0" if dead_every else "false"
    skipped = f"h.i = 1 AND mod(e.position, {skipped_every}) = 1" if skipped_every else "false"
    conn.exec_driver_sql(
        "INSERT INTO outbox (event_id, handler, status, attempts, dispatch_count,"
        " available_at, created_at, dispatched_at, done_at, last_error, order_key, order_seq)"
        " SELECT event_id, handler, status, CASE WHEN status = 'done' THEN 1 ELSE 5 END, 1,"
        " created, created, created,"
        " CASE WHEN status = 'done' THEN created + interval '1 second' END,"
        " CASE WHEN status = 'done' THEN NULL ELSE 'ConnectionError: refused' END,"
        f" CASE WHEN handler = '{WEBHOOKS}' THEN aggregate_id END,"
        f" CASE WHEN handler = '{WEBHOOKS}' THEN position END"
        " FROM (SELECT e.event_id, e.position, e.aggregate_id, e.occurred_at AS created, h.i,"
        f" {_handler_sql()} AS handler,"
        f" CASE WHEN {dead} THEN 'dead' WHEN {skipped} THEN 'skipped' ELSE 'done' END AS status"
        " FROM events AS e CROSS JOIN generate_series(0, 2) AS h(i)) AS d"
        " ORDER BY position, i"
    )


BACKLOG_STATUSES = ("pending", "pending", "dispatched", "running", "retry")
"""An unordered delivery's status in the backlog, by its key's number."""


def _backlog(conn: sa.Connection, mix: OutboxMix) -> None:
    """Every delivery of the newest ``backlog_keys`` keys, open; one key in ten of the
    webhook forwarder parked behind a dead head, one in ten waiting behind one in flight."""
    if not mix.backlog_keys:
        return
    created = utcnow() - timedelta(minutes=5)
    last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))).scalar()
    insert_events(conn, mix.history_events, mix.backlog_keys * EVENTS_PER_KEY, created, timedelta())
    stored = conn.execute(
        sa.select(events.c.event_id, events.c.event_type, events.c.aggregate_id, events.c.position)
        .where(events.c.position > last)
        .order_by(events.c.position)
    ).all()
    rows = []
    for n, event in enumerate(stored):
        key_number, version = divmod(n, EVENTS_PER_KEY)
        email = EMAILS[EVENT_TYPES.index(event.event_type)]
        unordered = BACKLOG_STATUSES[key_number % len(BACKLOG_STATUSES)]
        rows += [
            _open_row(event.event_id, PROJECTION, unordered, created),
            _open_row(event.event_id, email, unordered, created),
            {
                **_open_row(event.event_id, WEBHOOKS, _ordered(key_number, version), created),
                "order_key": event.aggregate_id,
                "order_seq": event.position,
            },
        ]
    conn.execute(outbox.insert(), rows)


def _ordered(key_number: int, version: int) -> str:
    """The webhook forwarder's status for a key's event: held behind its first one."""
    if key_number % 10 == 0:
        return "dead" if version == 0 else "parked"
    if key_number % 10 == 1:
        return "dispatched" if version == 0 else "waiting"
    return "pending" if version == 0 else "waiting"


def _open_row(event_id: str, handler: str, status: str, created: datetime) -> dict[str, Any]:
    leased = status in ("dispatched", "running")
    return {
        "event_id": event_id,
        "handler": handler,
        "status": status,
        "attempts": {"running": 1, "retry": 2, "dead": 5}.get(status, 0),
        "dispatch_count": 0 if status in ("pending", "waiting", "parked") else 1,
        "available_at": created + (LEASE if status == "retry" else timedelta()),
        "lease_until": created + LEASE if leased else None,
        "created_at": created,
        "dispatched_at": created if leased or status in ("retry", "dead") else None,
        "last_error": "ConnectionError: refused" if status in ("retry", "dead") else None,
    }


def _dead_letters(conn: sa.Connection) -> None:
    """A dead letter for every dead delivery, a skipped one for every skipped delivery."""
    conn.exec_driver_sql(
        "INSERT INTO dead_letters (delivery_id, event_id, event_type, handler, attempts,"
        " exception_type, message, traceback, body, status, created_at, skipped_at, skipped_by)"
        " SELECT o.id, o.event_id, e.event_type, o.handler, o.attempts,"
        " 'builtins.ConnectionError', 'refused', 'Traceback (most recent call last): …',"
        " NULL, o.status, o.created_at,"
        " CASE WHEN o.status = 'skipped' THEN o.created_at + interval '1 hour' END,"
        " CASE WHEN o.status = 'skipped' THEN 'ops:seed' END"
        " FROM outbox AS o JOIN events AS e USING (event_id)"
        " WHERE o.status IN ('dead', 'skipped') ORDER BY o.id"
    )


def _done_counts(conn: sa.Connection) -> None:
    conn.exec_driver_sql(
        "INSERT INTO outbox_done_counts (handler, shard, done)"
        f" SELECT handler, mod(id, {DONE_COUNT_SHARDS}), count(*) FROM outbox"
        " WHERE status = 'done' GROUP BY 1, 2"
        " ON CONFLICT (handler, shard)"
        " DO UPDATE SET done = outbox_done_counts.done + excluded.done"
    )
