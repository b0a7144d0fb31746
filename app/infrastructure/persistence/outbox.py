"""The outbox as writers and relays move it: rows appended with their events, then claimed,
marked dispatched or released.

``delivery_states`` says which status a row may move to and guards every statement that
moves one; the statements here name only their rows and the other columns.

Claiming is one atomic ``UPDATE … RETURNING`` guarded by the lease, with ``FOR UPDATE
SKIP LOCKED`` in the subquery on PostgreSQL (SQLite drops that clause and serialises
writers instead), so two relays at once never claim the same row. A worker's own moves
(attempt, retry, done) are in ``attempts``, the figures in ``backlog``, the retention
purge in ``retention``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.envelope import Envelope
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence import ordering
from app.infrastructure.persistence.delivery_states import UNFINISHED
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import Timestamp, events, outbox


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: int
    handler: str
    envelope: Envelope
    order_key: str | None = None
    """An ordered handler's key (see ``ordering``); None for unordered handlers."""


def append(
    conn: sa.Connection,
    envelopes: Sequence[Envelope],
    subscribers: Callable[[str], list[str]],
    *,
    dispatch_lease: timedelta | None,
    positions: Sequence[int] = (),
) -> list[ClaimedDelivery]:
    """Insert one delivery per event and subscribed handler, in the caller's transaction.

    Without a ``dispatch_lease`` (every deployment) they are ``pending``, for the relay,
    which a commit wakes; an ordered handler's rows carry their key and the event's
    ``positions`` entry, and the relay holds back any with an earlier one of its key still
    open. With a lease (eager mode, tests) they are written already ``dispatched``, leased
    for that long, and the caller publishes them right after commit, which runs them
    inline in commit order: they need no key.
    """
    placed: Sequence[int | None] = positions or [None] * len(envelopes)
    wanted = [
        (e, handler, position)
        for e, position in zip(envelopes, placed, strict=True)
        for handler in subscribers(e.event_type)
    ]
    if not wanted:
        return []
    now = utcnow()
    if dispatch_lease is None:
        state = states.created(DeliveryStatus.PENDING)
    else:
        state = {
            **states.created(DeliveryStatus.DISPATCHED),
            "dispatched_at": now,
            "dispatch_count": 1,
            "lease_until": now + dispatch_lease,
        }
    rows = [
        {
            "event_id": e.event_id,
            "handler": handler,
            "available_at": now,
            "created_at": now,
            **state,
            **ordering.place(handler, e, position if dispatch_lease is None else None),
        }
        for e, handler, position in wanted
    ]
    ids = conn.execute(
        outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    return [ClaimedDelivery(i, h, e) for i, (e, h, _p) in zip(ids, wanted, strict=True)]


_PENDING = states.in_status([DeliveryStatus.PENDING])


def has_pending(conn: sa.Connection) -> bool:
    """Whether any delivery waits to be published: a relay's cheap poll (partial index)."""
    return conn.execute(sa.select(outbox.c.id).where(_PENDING).limit(1)).first() is not None


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)


def claim(
    conn: sa.Connection,
    *,
    token: str,
    lease: timedelta,
    limit: int,
    ids: Sequence[int] | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries (or only those of ``ids``), oldest first.

    An ordered handler's rows come back too: the caller settles their keys (``ordering``)
    before publishing them.
    """
    now = utcnow()
    due = sa.and_(UNFINISHED, outbox.c.available_at <= now, _lease_free(now))
    if ids is not None:
        due = sa.and_(due, outbox.c.id.in_(ids))
    candidates = (
        sa.select(outbox.c.id)
        .where(due)
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(candidates.scalar_subquery()), _lease_free(now))
        .values(lease_until=now + lease, claimed_by=token)
        .returning(outbox.c.id, outbox.c.handler, outbox.c.event_id, outbox.c.order_key)
    ).all()
    if not claimed:
        return []
    rows = {
        row.event_id: row
        for row in conn.execute(
            sa.select(events).where(events.c.event_id.in_({c.event_id for c in claimed}))
        )
    }
    return sorted(
        (
            ClaimedDelivery(c.id, c.handler, envelope_from_row(rows[c.event_id]), c.order_key)
            for c in claimed
        ),
        key=lambda d: d.delivery_id,
    )


REDELIVERY_DOUBLINGS = 3
"""How often a re-published row's lease doubles: at most 2**3 times ``redelivery_after``."""


def _redelivery_lease(now: datetime, base: timedelta) -> sa.ColumnElement[datetime]:
    """``now + base * 2**dispatch_count``, the exponent capped at ``REDELIVERY_DOUBLINGS``."""
    whens = {n: sa.literal(now + base * 2**n, Timestamp) for n in range(REDELIVERY_DOUBLINGS)}
    longest = sa.literal(now + base * 2**REDELIVERY_DOUBLINGS, Timestamp)
    return sa.case(whens, value=outbox.c.dispatch_count, else_=longest)


def mark_dispatched(
    conn: sa.Connection, ids: Sequence[int], *, token: str, redelivery_after: timedelta
) -> None:
    """Published by the relay: lease the rows long enough for their tasks to start.

    The first publish waits ``redelivery_after``; each re-publish of the same row waits
    twice as long as the one before (up to 8 times). A queue backlog longer than
    ``redelivery_after`` is then sent again a few times in all, rather than once more per
    period, which would lengthen the very backlog that caused it.
    """
    if not ids:
        return
    now = utcnow()
    conn.execute(
        states.update_to(DeliveryStatus.DISPATCHED)
        .where(outbox.c.id.in_(ids), outbox.c.claimed_by == token)
        .values(
            dispatched_at=now,
            lease_until=_redelivery_lease(now, redelivery_after),
            dispatch_count=outbox.c.dispatch_count + 1,
        )
    )


def release(conn: sa.Connection, ids: Sequence[int], *, token: str | None) -> None:
    """Publishing failed: hand the rows straight back to the next relay sweep.

    ``token`` is the relay's claim; None releases rows written already dispatched by a
    command whose publish after commit failed (eager mode; only rows no worker touched).
    """
    if not ids:
        return
    if token is None:
        unstarted = states.update_to(DeliveryStatus.PENDING, sources=[DeliveryStatus.DISPATCHED])
        released = unstarted.where(outbox.c.attempts == 0)
    else:
        released = outbox.update().where(outbox.c.claimed_by == token, UNFINISHED)
    conn.execute(released.where(outbox.c.id.in_(ids)).values(lease_until=None))


def republish_unstarted(conn: sa.Connection) -> int:
    """The broker lost its queues: make every dispatched, unstarted row due right now."""
    return conn.execute(
        outbox.update()
        .where(states.in_status([DeliveryStatus.DISPATCHED]))
        .values(lease_until=None)
    ).rowcount
