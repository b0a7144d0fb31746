"""The one home of a delivery's status: which moves are legal, and every statement that
makes one.

``TRANSITIONS`` says, for each status, which statuses a row in it may move to. Every
statement that sets ``outbox.status`` is built here, from ``update_to`` (or, for new rows,
``insert``): the status it sets and its WHERE guard come from the map, and asking for a
move the map does not hold raises ``IllegalTransition`` when the statement is built (at
import, for the statements built once). The other modules execute these statements (the
worker's in ``attempts``, the relay's in ``outbox``, ordered keys' in ``ordering``, the
operators' in ``dead_letters``); they may add RETURNING or wrap one in a CTE, never
choose its rows or its status. The status is compared in SQL only through the guards
below. A unit test keeps every other module from setting the column or comparing it, so
this module stays the whole truth.

Ordered handlers add ``waiting`` and ``parked`` (held behind an earlier delivery of the same
key, in flight or dead) and ``skipped`` (a dead one an operator chose never to deliver);
``ordering`` says when a row is held and released.

The map is wider than the happy path ``pending → dispatched → running → done`` on purpose:
copies of one message race (a relay re-publishes a row whose lease ran out while a worker
runs it; a duplicate copy finishes a row another copy gave up on), and each statement must
still land on the row.
"""

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence.tables import NOT_DONE, Timestamp, outbox

PENDING = DeliveryStatus.PENDING
DISPATCHED = DeliveryStatus.DISPATCHED
RUNNING = DeliveryStatus.RUNNING
RETRY = DeliveryStatus.RETRY
DONE = DeliveryStatus.DONE
DEAD = DeliveryStatus.DEAD
WAITING = DeliveryStatus.WAITING
PARKED = DeliveryStatus.PARKED
SKIPPED = DeliveryStatus.SKIPPED

_ANY_ATTEMPT_ENDS = frozenset({RUNNING, RETRY, DONE, DEAD})

TRANSITIONS: Mapping[DeliveryStatus | None, frozenset[DeliveryStatus]] = MappingProxyType(
    {
        # A new row: for the relay's sweep, or already published by its command (eager).
        None: frozenset({PENDING, DISPATCHED}),
        # Published by the relay; a worker holding an earlier copy may start it first.
        # An ordered handler's row with an earlier one of its key still open is held
        # instead: waiting behind one in flight, parked behind a dead one.
        PENDING: frozenset({DISPATCHED, WAITING, PARKED}) | _ANY_ATTEMPT_ENDS,
        # Re-published when its lease runs out; back to pending when the publish after
        # commit failed and no worker has started it.
        DISPATCHED: frozenset({PENDING, DISPATCHED}) | _ANY_ATTEMPT_ENDS,
        # Re-published when the worker's lease ran out (the worker died, or runs long);
        # held again, unrun, when the worker finds an open delivery of its key ahead of it.
        RUNNING: frozenset({DISPATCHED, WAITING}) | _ANY_ATTEMPT_ENDS,
        RETRY: frozenset({DISPATCHED}) | _ANY_ATTEMPT_ENDS,
        # Re-driven by an operator; a duplicate copy may still finish it or fail again;
        # or skipped by an operator, for good.
        DEAD: frozenset({PENDING, DONE, DEAD, SKIPPED}),
        # Its key's earlier delivery ended: the next one goes (pending); or it died.
        WAITING: frozenset({PENDING, PARKED}),
        # Its key's dead head was re-driven (waiting again) or skipped (the next one goes).
        PARKED: frozenset({PENDING, WAITING}),
        DONE: frozenset(),
        SKIPPED: frozenset(),
    }
)
"""From each status (None: a row not yet written) to the statuses it may move to."""


class IllegalTransition(Exception):
    """A move the transition map does not hold: a programming error, raised when the
    statement that would make it is built."""


def transition(source: DeliveryStatus | None, target: DeliveryStatus) -> DeliveryStatus:
    """``target``, if a row in ``source`` may move to it; else ``IllegalTransition``."""
    if target not in TRANSITIONS[source]:
        raise IllegalTransition(f"a delivery cannot go from {source or 'nothing'} to {target}")
    return target


def sources_of(target: DeliveryStatus) -> tuple[DeliveryStatus, ...]:
    """Every status a row may leave for ``target``, in the order they are declared."""
    return tuple(s for s in DeliveryStatus if target in TRANSITIONS[s])


def in_status(statuses: Iterable[DeliveryStatus]) -> sa.ColumnElement[bool]:
    """``status IN (...)`` with the values inlined.

    Without ``done`` it repeats the partial indexes' predicate literally, so PostgreSQL
    can match them (a bound parameter would hide from the planner that 'done' is excluded).
    """
    wanted = set(statuses)
    if not wanted:
        raise ValueError("no status to match")
    listed = outbox.c.status.in_(
        [sa.literal_column(f"'{s}'") for s in DeliveryStatus if s in wanted]
    )
    if DONE in wanted:
        return listed
    if wanted == set(DeliveryStatus) - {DONE}:
        return sa.and_(NOT_DONE)
    return sa.and_(NOT_DONE, listed)


UNFINISHED = in_status(DeliveryStatus.unfinished())
"""Rows still waiting for an attempt to end: what relays claim and the backlog counts."""
NOT_DONE_YET = in_status(set(DeliveryStatus) - {DONE})
"""Rows not done, dead ones included (a dead delivery has not applied its event)."""
OPEN = in_status(set(DeliveryStatus) - {DONE, SKIPPED})
"""Rows that hold back the later deliveries of their ordered key: neither done nor skipped."""
HELD = in_status(DeliveryStatus.held())
"""Ordered rows held behind an earlier one of their key."""


def update_to(
    target: DeliveryStatus, *, sources: Iterable[DeliveryStatus] | None = None
) -> sa.Update:
    """An UPDATE of the outbox that sets ``target``, guarded to rows in ``sources``.

    ``sources`` defaults to every status the map lets move to ``target``; narrower ones
    are allowed, a source the map does not allow raises ``IllegalTransition``. The base of
    every move below, which adds its rows (``.where``) and other columns (``.values``) and
    never sets ``status`` again; the application's modules take those moves, not this.
    """
    return _update_to(target, sources_of(target) if sources is None else tuple(sources))


@functools.cache
def _update_to(target: DeliveryStatus, sources: tuple[DeliveryStatus, ...]) -> sa.Update:
    """Built once per move: statements are immutable, so the callers' per-call ones share it."""
    for source in sources:
        transition(source, target)
    return outbox.update().where(in_status(sources)).values(status=target)


def created(status: DeliveryStatus) -> dict[str, Any]:
    """The status column of a new row (an INSERT's values): ``insert``'s, and the test and
    bench seeders' that write rows in bulk."""
    return {"status": transition(None, status)}


def insert(
    status: DeliveryStatus, dialect_insert: Callable[[sa.Table], sa.Insert] = sa.insert
) -> sa.Insert:
    """An INSERT of new outbox rows written in ``status``; each row's parameters give the
    other columns. ``dialect_insert`` is a dialect's ``insert`` for its ON CONFLICT."""
    return dialect_insert(outbox).values(**created(status))


# The statements below are the moves the other modules make, each guarded by the map.
# Parameters are named apart from outbox's columns: in an UPDATE, a parameter named like
# a column is taken as a value to SET.

_THIS_DELIVERY = sa.and_(
    outbox.c.id == sa.bindparam("delivery_id"),
    outbox.c.handler == sa.bindparam("of_handler"),
    outbox.c.event_id == sa.bindparam("of_event_id"),
)
ATTEMPT_STARTED = (
    update_to(RUNNING)
    .where(_THIS_DELIVERY)
    .values(
        attempts=outbox.c.attempts + 1,
        lease_until=sa.bindparam("lease_until", type_=Timestamp),
    )
)
"""A worker counts an attempt and marks the row running, leased until ``lease_until``:
only the row ``delivery_id`` that is ``of_handler``'s delivery of ``of_event_id``.
Built once (it runs on every delivery); callers add RETURNING, and on PostgreSQL the join
to ``events`` (``events.event_id = outbox.event_id``) that returns the stored event."""


def retry_scheduled(delivery_id: int, *, error: str, lease_until: datetime) -> sa.Update:
    """A failed attempt's retry is scheduled: why, and a lease past its countdown."""
    return (
        update_to(RETRY)
        .where(outbox.c.id == delivery_id)
        .values(last_error=error[:2000], lease_until=lease_until)
    )


def marked_done() -> sa.Update:
    """The row ``delivery_id`` is done at ``done_at``; returns its handler (for the done
    counters). A new statement per call, for each to be a CTE of its own."""
    return (
        update_to(DONE)
        .where(outbox.c.id == sa.bindparam("delivery_id"))
        .values(
            done_at=sa.bindparam("done_at", type_=Timestamp),
            lease_until=None,
            last_error=None,
        )
        .returning(outbox.c.handler)
    )


def dead(delivery_id: int, *, error: str) -> sa.Update:
    """Given up on: the dead-letter store holds the why."""
    return (
        update_to(DEAD)
        .where(outbox.c.id == delivery_id)
        .values(lease_until=None, last_error=error[:2000])
    )


def redriven(delivery_ids: Collection[int], *, now: datetime) -> sa.Update:
    """An operator re-drives dead rows: pending again, with fresh attempts; returns the
    ids it moved (a row no longer dead is left alone)."""
    return (
        update_to(PENDING, sources=[DEAD])
        .where(outbox.c.id.in_(delivery_ids))
        .values(
            attempts=0,
            available_at=now,
            lease_until=None,
            claimed_by=None,
            last_error=None,
        )
        .returning(outbox.c.id)
    )


def skipped(delivery_ids: Collection[int]) -> sa.Update:
    """An operator gives dead rows up for good; returns the ids it moved."""
    return (
        update_to(SKIPPED, sources=[DEAD])
        .where(outbox.c.id.in_(delivery_ids))
        .values(lease_until=None, claimed_by=None)
        .returning(outbox.c.id)
    )


def dispatched(
    delivery_ids: Collection[int],
    *,
    token: str,
    now: datetime,
    lease_until: sa.ColumnElement[datetime],
) -> sa.Update:
    """The relay holding claim ``token`` published these rows; one more dispatch each."""
    return (
        update_to(DISPATCHED)
        .where(outbox.c.id.in_(delivery_ids), outbox.c.claimed_by == token)
        .values(
            dispatched_at=now,
            lease_until=lease_until,
            dispatch_count=outbox.c.dispatch_count + 1,
        )
    )


def unstarted_released(delivery_ids: Collection[int]) -> sa.Update:
    """Rows written already dispatched whose publish after commit failed, and that no
    worker has started: pending again, for the relay's sweep."""
    return (
        update_to(PENDING, sources=[DISPATCHED])
        .where(outbox.c.attempts == 0)
        .where(outbox.c.id.in_(delivery_ids))
        .values(lease_until=None)
    )


def settled(delivery_ids: Collection[int], target: DeliveryStatus) -> sa.Update:
    """``ordering`` moves an ordered key's pending or held rows to ``target``: released
    (pending) or held (waiting, parked). A held row loses any relay's claim."""
    sources = [s for s in (PENDING, WAITING, PARKED) if s != target]
    return (
        update_to(target, sources=sources)
        .where(outbox.c.id.in_(delivery_ids))
        .values(lease_until=None, claimed_by=None)
    )


RELEASE_FIRST_OPEN = (
    update_to(PENDING, sources=[WAITING, PARKED])
    .where(
        sa.text(
            "outbox.id = (SELECT head.id FROM outbox AS head JOIN outbox AS finished"
            " ON head.handler = finished.handler AND head.order_key = finished.order_key"
            " WHERE finished.id = :finished_id"
            f" AND head.status <> '{DONE}'"
            f" AND head.status <> '{SKIPPED}'"
            " ORDER BY head.order_seq, head.id LIMIT 1)"
        )
    )
    .values(lease_until=None, claimed_by=None)
)
"""After the delivery ``finished_id`` is done, ``ordering.release_next`` releases its key's
first open row (pending) if that row is held; no row moves when the delivery is unordered
or its key has no open row left (``ix_outbox_ordered_open``). Built once (it runs after
every ordered done). A held row loses any relay's claim."""


def held_again(delivery_id: int) -> sa.Update:
    """A worker started a row with an open one of its key ahead: waiting again, unrun."""
    return (
        update_to(WAITING, sources=[RUNNING])
        .where(outbox.c.id == delivery_id)
        .values(lease_until=None, claimed_by=None)
    )


# An ordered row's place behind the others of its key, read in statements on ``outbox``.
# Spelled out (correlated on an alias), so SQLAlchemy renders them inside RETURNING too.

AHEAD_IN_FLIGHT = sa.literal_column(
    "EXISTS (SELECT 1 FROM outbox AS ahead WHERE ahead.handler = outbox.handler"
    " AND ahead.order_key = outbox.order_key AND ahead.order_seq < outbox.order_seq"
    f" AND ahead.status <> '{DONE}'"
    f" AND ahead.status IN ('{PENDING}', '{DISPATCHED}', '{RUNNING}', '{RETRY}', '{DEAD}'))",
    sa.Boolean,
)
"""Whether a row of the same key ahead of this one is in flight or dead."""

BEHIND = sa.literal_column(
    "(SELECT ahead.id FROM outbox AS ahead WHERE ahead.handler = outbox.handler"
    " AND ahead.order_key = outbox.order_key AND ahead.order_seq < outbox.order_seq"
    f" AND ahead.status <> '{DONE}'"
    f" AND ahead.status <> '{SKIPPED}' LIMIT 1)",
    sa.BigInteger,
)
"""The id of an open row of the same key ahead of this one (null when there is none, and
always for unordered rows)."""
