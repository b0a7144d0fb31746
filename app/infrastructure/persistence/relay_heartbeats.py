"""When each host's following relay last went round its loop."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from app.infrastructure.persistence.sql import as_utc, upsert, utcnow
from app.infrastructure.persistence.tables import relay_heartbeats


def beat(conn: sa.Connection, host: str) -> None:
    now = utcnow()
    statement = upsert(conn, relay_heartbeats).values(host=host, beat_at=now)
    conn.execute(statement.on_conflict_do_update(index_elements=["host"], set_={"beat_at": now}))


def freshest(conn: sa.Connection) -> datetime | None:
    """The latest heartbeat of any relay, or None if no relay ever ran against this store."""
    latest = conn.execute(sa.select(sa.func.max(relay_heartbeats.c.beat_at))).scalar()
    return None if latest is None else as_utc(latest)


def age_seconds(conn: sa.Connection) -> float | None:
    latest = freshest(conn)
    return None if latest is None else max(0.0, (utcnow() - latest).total_seconds())


def ages_by_host(conn: sa.Connection, within: timedelta) -> dict[str, float]:
    """Seconds since each host's relay last beat, for the hosts that beat within ``within``:
    a host gone for longer (decommissioned, renamed) drops out instead of ageing forever."""
    now = utcnow()
    rows = conn.execute(
        sa.select(relay_heartbeats.c.host, relay_heartbeats.c.beat_at).where(
            relay_heartbeats.c.beat_at >= now - within
        )
    ).all()
    return {host: max(0.0, (now - as_utc(beat_at)).total_seconds()) for host, beat_at in rows}
