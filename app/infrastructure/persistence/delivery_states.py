"""The one home of a delivery's status: which moves are legal, and where every move starts.

``TRANSITIONS`` says, for each status, which statuses a row in it may move to. Every
statement that sets ``outbox.status`` starts from ``update_to`` (or a new row from
``created``): the status it sets and its WHERE guard come from the map, and asking for a
move the map does not hold raises ``IllegalTransition`` when the statement is built (at
import, for the statements built once). Callers add which rows (ids, a claim token) and the
other columns (lease, attempts, errors). A unit test keeps every other module from setting
the column or comparing it, so the map stays the whole truth.

Ordered handlers add ``waiting`` and ``parked`` (held behind an earlier delivery of the same
key, in flight or dead) and ``skipped`` (a dead one an operator chose never to deliver);
``ordering`` says when a row is held and released.

The map is wider than the happy path ``pending → dispatched → running → done`` on purpose:
copies of one message race (a relay re-publishes a row whose lease ran out while a worker
runs it; a duplicate copy finishes a row another copy gave up on), and each statement must
still land on the row.
"""

import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence.tables import NOT_DONE, outbox

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
    are allowed, a source the map does not allow raises ``IllegalTransition``. Add the rows
    (``.where``) and other columns (``.values``); never set ``status`` again.
    """
    return _update_to(target, sources_of(target) if sources is None else tuple(sources))


@functools.cache
def _update_to(target: DeliveryStatus, sources: tuple[DeliveryStatus, ...]) -> sa.Update:
    """Built once per move: statements are immutable, so the callers' per-call ones share it."""
    for source in sources:
        transition(source, target)
    return outbox.update().where(in_status(sources)).values(status=target)


def created(status: DeliveryStatus) -> dict[str, Any]:
    """The status column of a new row (an INSERT's values)."""
    return {"status": transition(None, status)}
