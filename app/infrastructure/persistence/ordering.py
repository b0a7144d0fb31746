"""Ordered delivery: which of an ordered key's deliveries may go, and which are held.

An ordered handler's deliveries of one key (by default, one aggregate's) go one at a time,
in the order of their events' positions. A delivery is *open* until it is done or skipped.
Only the first open delivery of a key may be published; the others are *held*: ``waiting``
behind one still in flight, or ``parked`` when one ahead of them is dead (Axon's sequenced
dead-letter queue: later events queue behind a failed one instead of overtaking it).

``settle`` is the one rule, applied to some keys: it reads their open deliveries in order
and moves each one that is pending or held to what it should be now. Whatever can change a
key's head calls it: the relay on the rows it just claimed, a worker after a done, the
dead-letter store (dead-lettering, re-driving, skipping, purging) and the relay's idle
repair. It takes no locks, so it is safe by being checked again where it matters:

* the relay settles every ordered row it claims after the claim commits and before
  publishing it, so it does not publish a row with an open one ahead of it (a row committed
  ahead of it is visible: its key's transactions are serialised, see ``OrderKey``), except
  where another relay's settle, reading before a done and writing after, holds a row this
  one has just let go (rare, under load; a later row may then go early);
* a worker starting a delivery learns whether one ahead of it is open (``Attempt.behind``),
  or finds it held, and does not run it: this check is what keeps runs in order;
* a held row is never stranded: a worker settles the key in a new transaction after its
  done commits, and the relay settles the keys it held back in its next transaction after
  holding them back. Whichever of the two reads second sees the other's commit.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.event_handlers.specs import StoredEvent
from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence.delivery_states import AHEAD_IN_FLIGHT, HELD, OPEN
from app.infrastructure.persistence.tables import outbox

PENDING, WAITING, PARKED = DeliveryStatus.PENDING, DeliveryStatus.WAITING, DeliveryStatus.PARKED
MAX_KEY_LENGTH = 200
"""The ``order_key`` column's width."""
KEYS_PER_QUERY = 500
"""Keys settled per statement (a bounded IN list)."""

Key = tuple[str, str]
"""(handler, order key)."""

NO_PLACE: Mapping[str, str | int | None] = {"order_key": None, "order_seq": None}


def place(handler: str, event: StoredEvent, position: int | None) -> Mapping[str, str | int | None]:
    """The ``order_key`` and ``order_seq`` columns of ``handler``'s delivery of ``event``.

    Null for unordered handlers, and when no position is given (eager mode). Raises
    ValueError for a key the column cannot hold, rather than cutting it into another key.
    """
    spec = HANDLERS_BY_NAME.get(handler)
    if spec is None or spec.ordered_by is None or position is None:
        return NO_PLACE
    key = spec.ordered_by(event)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{handler}'s order key must be 1 to {MAX_KEY_LENGTH} characters, got {key!r}"
        )
    return {"order_key": key, "order_seq": position}


@dataclass(frozen=True)
class _Open:
    id: int
    status: DeliveryStatus


@dataclass
class Settled:
    """What ``settle`` moved: rows released to pending, and rows it held."""

    released: list[int] = field(default_factory=list)
    held: dict[int, DeliveryStatus] = field(default_factory=dict)


def due_statuses(open_rows: Iterable[tuple[int, DeliveryStatus]]) -> dict[int, DeliveryStatus]:
    """For one key's open rows, in order: the status each should have now, where it differs.

    The first open row goes (a held head is released to pending). Behind it, a pending or
    held row waits, or is parked once a dead or parked row is ahead of it. Rows already in
    flight or dead are never moved here.
    """
    moves: dict[int, DeliveryStatus] = {}
    blocked_by_dead = False
    for index, (row_id, status) in enumerate(open_rows):
        movable = status == PENDING or status in DeliveryStatus.held()
        target = status
        if movable:
            target = PENDING if index == 0 else PARKED if blocked_by_dead else WAITING
        if target != status:
            moves[row_id] = target
        blocked_by_dead = blocked_by_dead or target in (DeliveryStatus.DEAD, PARKED)
    return moves


def settle(conn: sa.Connection, keys: Collection[Key]) -> Settled:
    """Move the keys' pending and held rows to what ``due_statuses`` says, now."""
    settled = Settled()
    key_list = sorted(keys)
    for start in range(0, len(key_list), KEYS_PER_QUERY):
        chunk = key_list[start : start + KEYS_PER_QUERY]
        _settle_where(conn, _KEY.in_(chunk), settled)
    return settled


def settle_deliveries(conn: sa.Connection, delivery_ids: Collection[int]) -> Settled:
    """Settle the keys of these deliveries (after one of them changed); unordered ones
    have none. One read, and a write only when something moves."""
    settled = Settled()
    if delivery_ids:
        keys = sa.select(outbox.c.handler, outbox.c.order_key).where(
            outbox.c.id.in_(list(delivery_ids)), outbox.c.order_key.is_not(None)
        )
        _settle_where(conn, _KEY.in_(keys), settled)
    return settled


_KEY = sa.tuple_(outbox.c.handler, outbox.c.order_key)


def _settle_where(conn: sa.Connection, keys: sa.ColumnElement[bool], settled: Settled) -> None:
    per_key: dict[Key, list[tuple[int, DeliveryStatus]]] = {}
    for row in conn.execute(
        sa.select(outbox.c.id, outbox.c.handler, outbox.c.order_key, outbox.c.status)
        .where(OPEN, keys)
        .order_by(outbox.c.order_seq, outbox.c.id)
    ):
        per_key.setdefault((row.handler, row.order_key), []).append(
            (row.id, DeliveryStatus(row.status))
        )
    released: list[int] = []
    held: dict[int, DeliveryStatus] = {}
    for rows in per_key.values():
        for row_id, target in due_statuses(rows).items():
            if target == PENDING:
                released.append(row_id)
            else:
                held[row_id] = target
    _move(conn, released, PENDING)
    for target in (WAITING, PARKED):
        _move(conn, [i for i, t in held.items() if t == target], target)
    settled.released.extend(released)
    settled.held.update(held)


def _move(conn: sa.Connection, ids: list[int], target: DeliveryStatus) -> None:
    """Guarded by the sources the map allows; a held row loses any relay's claim."""
    if not ids:
        return
    conn.execute(states.settled(ids, target))


def stranded_keys(conn: sa.Connection, limit: int = 10_000) -> dict[Key, int]:
    """Keys whose first open row is held, each with that row's id: nothing in flight or
    dead ahead of it will release it. What the relay's repair settles.

    A key is stranded for good when a worker died between its done and its release, and
    for a moment after every done (the release is the worker's next transaction); the
    row id tells the two apart when the key is looked at again. In a healthy outbox this
    finds almost none, however many rows wait.
    """
    rows = conn.execute(
        sa.select(outbox.c.handler, outbox.c.order_key, sa.func.min(outbox.c.id).label("id"))
        .where(HELD, sa.not_(AHEAD_IN_FLIGHT))
        .group_by(outbox.c.handler, outbox.c.order_key)
        .limit(limit)
    )
    return {(row.handler, row.order_key): int(row.id) for row in rows}


def release_next(conn: sa.Connection, delivery_id: int) -> bool:
    """After ``delivery_id`` ended (done): release its key's first open row if it is held.

    One statement, whatever the key holds: what ``settle`` would move first, and the only
    move a done can make due (the rows behind that first one stay as they are). True when
    a row was released.
    """
    return bool(conn.execute(states.RELEASE_FIRST_OPEN, {"finished_id": delivery_id}).rowcount)


def hold(conn: sa.Connection, delivery_id: int) -> None:
    """A worker started a row with an open one ahead of it: hold it again, unrun."""
    conn.execute(states.held_again(delivery_id))
    settle_deliveries(conn, [delivery_id])
