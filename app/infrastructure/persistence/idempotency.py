"""Idempotency keys of POST commands: claimed before the command runs, completed with the
command's reply inside the command's own transaction.

A key belongs to its caller (a digest of the bearer token, ``app.api.auth.caller``): a
row is named by (caller, key), so another caller's same key never finds it.

A claim is a short transaction of its own, so a repeat that arrives while the first
request still runs finds it (``InFlight``) on every database. The reply is written by
``IdempotencyRecord`` in the same transaction as the command's state and events: a
command that committed always has its reply stored, one that did not has none. A claim
whose request died without answering is taken over after ``IN_FLIGHT_LEASE``.
"""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from app.application.ports import (
    ClaimedKey,
    ClaimOutcome,
    InFlight,
    Replay,
    Replies,
    Reply,
    Reused,
)
from app.domain.errors import Conflict
from app.infrastructure.persistence.sql import upsert, utcnow
from app.infrastructure.persistence.tables import idempotency_keys

IN_FLIGHT = "in_flight"
DONE = "done"
IN_FLIGHT_LEASE = timedelta(minutes=2)
"""Longer than any request may run (gunicorn's worker timeout is 30 s)."""


class IdempotencyKeys:
    def __init__(self, engine: sa.Engine, ttl: timedelta) -> None:
        self._engine = engine
        self._ttl = ttl

    def claim(self, caller: str, key: str, fingerprint: str) -> ClaimOutcome:
        now, claim = utcnow(), str(uuid4())
        fresh = {
            "fingerprint": fingerprint,
            "status": IN_FLIGHT,
            "claim": claim,
            "claimed_at": now,
            "status_code": None,
            "response": None,
            "event_position": None,
            "expires_at": now + self._ttl,
        }
        table = idempotency_keys
        this_key = sa.and_(table.c.caller == caller, table.c.key == key)
        with self._engine.begin() as conn:
            inserted = conn.execute(
                upsert(conn, table)
                .values(caller=caller, key=key, **fresh)
                .on_conflict_do_nothing()
                .returning(table.c.key)
            ).first()
            if inserted is None:
                inserted = conn.execute(
                    table.update()
                    .where(
                        this_key,
                        sa.or_(
                            table.c.expires_at <= now,
                            sa.and_(
                                table.c.status == IN_FLIGHT,
                                table.c.claimed_at < now - IN_FLIGHT_LEASE,
                                table.c.fingerprint == fingerprint,
                            ),
                        ),
                    )
                    .values(**fresh)
                    .returning(table.c.key)
                ).first()
            if inserted is not None:
                return ClaimedKey(caller, key, claim)
            row = conn.execute(sa.select(table).where(this_key)).one()
        if row.fingerprint != fingerprint:
            return Reused()
        if row.status == IN_FLIGHT:
            return InFlight()
        return Replay(row.status_code, row.response, row.event_position)

    def store_refusal(self, claimed: ClaimedKey, status_code: int, body: Any) -> None:
        """Keep a 4xx reply (the command wrote nothing), in a transaction of its own."""
        with self._engine.begin() as conn:
            _complete(conn, claimed, status_code, body, None)

    def release(self, claimed: ClaimedKey) -> None:
        """Forget the claim of a request whose answer is not kept: a retry runs again."""
        table = idempotency_keys
        with self._engine.begin() as conn:
            conn.execute(table.delete().where(_holds(claimed)))

    def purge_expired(self, batch_size: int = 1000) -> int:
        """Delete expired keys, one short transaction per batch."""
        table, total = idempotency_keys, 0
        while True:
            with self._engine.begin() as conn:
                batch = (
                    sa.select(table.c.caller, table.c.key)
                    .where(table.c.expires_at <= utcnow())
                    .limit(batch_size)
                )
                row_key = sa.tuple_(table.c.caller, table.c.key)
                deleted = len(
                    conn.execute(
                        table.delete().where(row_key.in_(batch)).returning(table.c.key)
                    ).all()
                )
            total += deleted
            if deleted < batch_size:
                return total


class IdempotencyRecord(Replies):
    """The reply of the running command, written by the unit of work just before it commits."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._kept: tuple[ClaimedKey, Reply] | None = None

    def keep(self, key: ClaimedKey, reply: Reply) -> None:
        self._kept = (key, reply)

    def write(self, event_position: int | None) -> None:
        if self._kept is not None:
            key, reply = self._kept
            _complete(self._conn, key, reply.status_code, reply.body, event_position)


def _complete(
    conn: sa.Connection, claimed: ClaimedKey, status_code: int, body: Any, position: int | None
) -> None:
    table = idempotency_keys
    completed = conn.execute(
        table.update()
        .where(_holds(claimed))
        .values(
            status=DONE, claim=None, status_code=status_code, response=body, event_position=position
        )
        .returning(table.c.key)
    ).first()
    if completed is None:
        raise Conflict(f"idempotency key {claimed.key!r} was taken over by a later request")


def _holds(claimed: ClaimedKey) -> sa.ColumnElement[bool]:
    """The row of ``claimed``, while its claim still holds it."""
    table = idempotency_keys
    return sa.and_(
        table.c.caller == claimed.caller,
        table.c.key == claimed.key,
        table.c.claim == claimed.claim,
    )
