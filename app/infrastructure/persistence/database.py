"""The Flask-SQLAlchemy extension (created unbound) and per-dialect engine tuning."""

from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from app.infrastructure.persistence.tables import metadata

db = SQLAlchemy(metadata=metadata)

READ_ONLY = "outboxflow_read_only"


def read_only(engine: sa.Engine) -> sa.Engine:
    """The same engine (and pool), for connections that only read.

    On SQLite their transactions start deferred, so a reader never waits for, nor
    blocks, a writer (WAL); everything else takes the write lock up front.
    """
    return engine.execution_options(**{READ_ONLY: True})


def single_statement(engine: sa.Engine) -> sa.Engine:
    """The same engine, for work that is one statement: on PostgreSQL in autocommit mode,
    so it is one round trip (no BEGIN/COMMIT around it). SQLite keeps its transaction."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def engine_options(database_url: str, *, behind_pooler: bool = False) -> dict[str, Any]:
    """``behind_pooler``: the URL reaches PostgreSQL through a transaction-pooling PgBouncer,
    which hands each transaction to any server connection, where psycopg's prepared
    statements (made after a query's fifth run) do not exist."""
    if database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    # No pre-ping: it costs a round trip per checkout. A connection the server dropped
    # fails its first statement instead; SQLAlchemy then discards the pool's stale
    # connections, and the failure is retried like any other transient one.
    options: dict[str, Any] = {"pool_size": 5, "max_overflow": 10}
    if behind_pooler:
        options["connect_args"] = {"prepare_threshold": None}
    return options


def session_engine(settings_direct_url: str, engine: sa.Engine) -> sa.Engine:
    """The engine for what needs a session of its own (LISTEN): ``engine`` itself, unless a
    pooler stands between it and the database and ``settings_direct_url`` goes around it.

    A transaction pooler hands the next transaction to another client, so a LISTEN made
    through it hears nothing, or hears for someone else.
    """
    if not settings_direct_url:
        return engine
    return sa.create_engine(settings_direct_url, pool_size=1, max_overflow=10)


def tune_engine(engine: sa.Engine) -> None:
    """SQLite: WAL so readers never block, and BEGIN IMMEDIATE so writers queue politely.

    A deferred SQLite transaction that reads and then writes can fail at once with
    "database is locked" instead of waiting; taking the write lock up front avoids it.
    """
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
