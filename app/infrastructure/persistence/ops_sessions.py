"""Ops-page sessions kept in the database, so that signing out ends one on every web process.

A sign-in gets a random id, which its cookie carries; the table keeps the id's SHA-256, so
a copy of the table (a backup, a replica) opens nothing. A session lives ``lifetime`` from
its sign-in however much it is used, and signing out deletes its row. Rows past their
lifetime are deleted by the next sign-in: there are only as many as operators sign in.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import ops_sessions


@dataclass(frozen=True)
class OpsSession:
    session_id: str
    """Goes into the signed cookie only; the table holds its digest."""
    issued_at: datetime


class OpsSessions:
    def __init__(self, engine: sa.Engine, lifetime: timedelta) -> None:
        self._engine = engine
        self._lifetime = lifetime

    def start(self) -> OpsSession:
        started = OpsSession(secrets.token_urlsafe(32), utcnow())
        with self._engine.begin() as conn:
            conn.execute(ops_sessions.delete().where(ops_sessions.c.issued_at <= self._cutoff()))
            conn.execute(
                ops_sessions.insert().values(
                    id_digest=_digest(started.session_id), issued_at=started.issued_at
                )
            )
        return started

    def live(self, session_id: str) -> bool:
        """Whether the session was started, is not past its lifetime, and was not ended."""
        query = sa.select(ops_sessions.c.id_digest).where(
            ops_sessions.c.id_digest == _digest(session_id),
            ops_sessions.c.issued_at > self._cutoff(),
        )
        with read_only(self._engine).connect() as conn:
            return conn.execute(query).first() is not None

    def end(self, session_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                ops_sessions.delete().where(ops_sessions.c.id_digest == _digest(session_id))
            )

    def _cutoff(self) -> datetime:
        """Sessions issued at or before this are over (the current lifetime, so shortening
        OPS_SESSION_HOURS shortens the sessions already started too)."""
        return utcnow() - self._lifetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
