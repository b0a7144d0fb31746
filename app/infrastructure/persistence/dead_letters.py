"""The dead-letter store: the database record of every delivery we gave up on.

It is the source of truth on both brokers (the ``dead_letter`` queue is a copy for
operators). Re-driving resets the delivery to pending with fresh attempts and keeps the
dead-letter row, marked ``redriven``, as history. Skipping gives the delivery up for good
(``skipped``), keeping the row with who skipped it. For an ordered handler, dead-lettering
parks the rest of the delivery's key, and re-driving, skipping or purging it lets it go on.
"""

import traceback as tb
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.application.dead_letters import (
    DEAD,
    REDRIVEN,
    SKIPPED,
    DeadLetterFilter,
    DeadLetterRecord,
)
from app.application.event_handlers.registry import HANDLERS
from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence import ordering
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import (
    Timestamp,
    dead_letters,
    outbox,
    purged_dead_deliveries,
)

ORDERED_HANDLERS = frozenset(spec.name for spec in HANDLERS if spec.ordered)


def condition(where: DeadLetterFilter) -> sa.ColumnElement[bool]:
    """The WHERE clause of the dead letters ``where`` means."""
    clauses: list[sa.ColumnElement[bool]] = []
    if not where.include_redriven:
        clauses.append(dead_letters.c.status == DEAD)
    if where.handler:
        clauses.append(dead_letters.c.handler == where.handler)
    if where.event_type:
        clauses.append(dead_letters.c.event_type == where.event_type)
    if where.error:
        text = where.error.lower()
        clauses.append(
            sa.or_(
                sa.func.lower(dead_letters.c.message).contains(text, autoescape=True),
                sa.func.lower(dead_letters.c.exception_type).contains(text, autoescape=True),
            )
        )
    if where.since:
        clauses.append(dead_letters.c.created_at >= where.since)
    return sa.and_(sa.true(), *clauses)


def record(
    conn: sa.Connection,
    *,
    exc: BaseException,
    attempts: int,
    delivery_id: int | None,
    handler: str | None,
    body: object,
    event_id: str | None = None,
    event_type: str | None = None,
) -> int:
    """Store the failure and mark its delivery dead, in the caller's transaction."""
    trace = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    dead_letter_id = conn.execute(
        dead_letters.insert()
        .values(
            delivery_id=delivery_id,
            event_id=event_id,
            event_type=event_type,
            handler=handler,
            attempts=attempts,
            exception_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=str(exc)[:4000] or type(exc).__name__,
            traceback=trace[-20000:],
            body=body,
            status=DEAD,
            created_at=utcnow(),
        )
        .returning(dead_letters.c.id)
    ).scalar_one()
    if delivery_id is not None:
        conn.execute(states.dead(delivery_id, error=str(exc)))
        if handler in ORDERED_HANDLERS:
            ordering.settle_deliveries(conn, [delivery_id])
    return int(dead_letter_id)


def list_dead_letters(
    conn: sa.Connection, where: DeadLetterFilter, *, limit: int = 100, offset: int = 0
) -> list[DeadLetterRecord]:
    rows = conn.execute(
        sa.select(dead_letters)
        .where(condition(where))
        .order_by(dead_letters.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [_public(row) for row in rows]


def get_dead_letter(conn: sa.Connection, dead_letter_id: int) -> DeadLetterRecord | None:
    row = (
        conn.execute(sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id))
        .mappings()
        .first()
    )
    return None if row is None else _public(row)


def matching_ids(conn: sa.Connection, where: DeadLetterFilter) -> list[int]:
    return list(
        conn.execute(
            sa.select(dead_letters.c.id).where(condition(where)).order_by(dead_letters.c.id)
        ).scalars()
    )


def redrive(conn: sa.Connection, ids: Sequence[int]) -> list[int]:
    """Put the deliveries of these dead letters back to pending with fresh attempts.

    Returns the ids of the dead letters actually re-driven: those still ``dead`` whose
    delivery is still dead (a duplicate copy may have completed it meanwhile); the rest
    are left alone.
    """
    rows = _still_dead(conn, ids)
    if not rows:
        return []
    now = utcnow()
    reset = set(conn.execute(states.redriven([r.delivery_id for r in rows], now=now)).scalars())
    redriven = [r.id for r in rows if r.delivery_id in reset]
    if redriven:
        conn.execute(
            dead_letters.update()
            .where(dead_letters.c.id.in_(redriven))
            .values(status=REDRIVEN, redriven_at=now)
        )
        # Their ordered keys' parked rows wait again, behind the re-driven head.
        ordering.settle_deliveries(conn, reset)
    return redriven


def _still_dead(conn: sa.Connection, ids: Sequence[int]) -> list[Any]:
    """(id, delivery_id) of these dead letters that are still dead and name a delivery."""
    if not ids:
        return []
    return list(
        conn.execute(
            sa.select(dead_letters.c.id, dead_letters.c.delivery_id).where(
                dead_letters.c.id.in_(ids),
                dead_letters.c.status == DEAD,
                dead_letters.c.delivery_id.is_not(None),
            )
        ).all()
    )


def skip(conn: sa.Connection, ids: Sequence[int], *, by: str) -> list[int]:
    """Never deliver these dead letters' deliveries, and let their keys' next ones go.

    The dead letter keeps its row, ``skipped``, with who skipped it and when. Returns the
    ids actually skipped: dead letters still ``dead`` whose delivery is still dead.
    """
    rows = _still_dead(conn, ids)
    if not rows:
        return []
    skipped_deliveries = set(conn.execute(states.skipped([r.delivery_id for r in rows])).scalars())
    skipped = [r.id for r in rows if r.delivery_id in skipped_deliveries]
    if skipped:
        conn.execute(
            dead_letters.update()
            .where(dead_letters.c.id.in_(skipped))
            .values(status=SKIPPED, skipped_at=utcnow(), skipped_by=by[:200])
        )
        ordering.settle_deliveries(conn, skipped_deliveries)
    return skipped


def purge(conn: sa.Connection, where: DeadLetterFilter) -> int:
    """Delete matching dead letters and their dead deliveries for good.

    Each deleted delivery leaves a row in ``purged_dead_deliveries`` (its handler, attempts
    and last error), so the event's deliveries and traces report it as purged.
    """
    ids = matching_ids(conn, where)
    if not ids:
        return 0
    delivery_ids = [
        d
        for d in conn.execute(
            sa.select(dead_letters.c.delivery_id).where(dead_letters.c.id.in_(ids))
        ).scalars()
        if d is not None
    ]
    if delivery_ids:
        dead_deliveries = sa.and_(
            outbox.c.id.in_(delivery_ids), states.in_status([DeliveryStatus.DEAD])
        )
        conn.execute(
            purged_dead_deliveries.insert().from_select(
                ["event_id", "handler", "attempts", "last_error", "purged_at"],
                sa.select(
                    outbox.c.event_id,
                    outbox.c.handler,
                    outbox.c.attempts,
                    outbox.c.last_error,
                    sa.literal(utcnow(), Timestamp),
                ).where(dead_deliveries),
            )
        )
        keys = {
            (row.handler, row.order_key)
            for row in conn.execute(
                sa.select(outbox.c.handler, outbox.c.order_key).where(
                    dead_deliveries, outbox.c.order_key.is_not(None)
                )
            )
        }
        conn.execute(outbox.delete().where(dead_deliveries))
        if keys:
            # A purged head is gone for good: the rest of its key goes on.
            ordering.settle(conn, keys)
    return conn.execute(dead_letters.delete().where(dead_letters.c.id.in_(ids))).rowcount


def _public(row: sa.RowMapping) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=row["id"],
        delivery_id=row["delivery_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        handler=row["handler"],
        attempts=row["attempts"],
        exception_type=row["exception_type"],
        message=row["message"],
        traceback=row["traceback"],
        body=row["body"],
        status=row["status"],
        created_at=_iso(row["created_at"]),
        redriven_at=_iso(row["redriven_at"]) if row["redriven_at"] is not None else None,
        skipped_at=_iso(row["skipped_at"]) if row["skipped_at"] is not None else None,
        skipped_by=row["skipped_by"],
    )


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()


class DeadLetterStore:
    """The operations operators run (CLI and HTTP), each in its own transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._reader = read_only(engine)

    def search(
        self, where: DeadLetterFilter, *, limit: int = 100, offset: int = 0
    ) -> list[DeadLetterRecord]:
        with self._reader.connect() as conn:
            return list_dead_letters(conn, where, limit=limit, offset=offset)

    def count(self, where: DeadLetterFilter) -> int:
        with self._reader.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(dead_letters).where(condition(where))
                ).scalar_one()
            )

    def get(self, dead_letter_id: int) -> DeadLetterRecord | None:
        with self._reader.connect() as conn:
            return get_dead_letter(conn, dead_letter_id)

    def matching(self, where: DeadLetterFilter) -> list[int]:
        with self._reader.connect() as conn:
            return matching_ids(conn, where)

    def redrive(self, ids: Sequence[int]) -> list[int]:
        with self._engine.begin() as conn:
            return redrive(conn, ids)

    def skip(self, ids: Sequence[int], *, by: str) -> list[int]:
        with self._engine.begin() as conn:
            return skip(conn, ids, by=by)

    def purge(self, where: DeadLetterFilter) -> int:
        with self._engine.begin() as conn:
            return purge(conn, where)
