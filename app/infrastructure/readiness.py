"""Readiness: can this process serve? The database answers, its schema is at the migrations'
head, and the broker accepts a connection. Each check is cheap and bounded in time."""

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from celery import Celery

from app.infrastructure.persistence import relay_heartbeats

OK = "ok"
BROKER_TIMEOUT_SECONDS = 3.0


@cache
def migration_heads(migrations_dir: Path) -> frozenset[str]:
    """The head revision(s) of the migration scripts (read once per process)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def check(engine: sa.Engine, migrations_dir: Path, celery: Celery) -> dict[str, str]:
    """``{"database": ..., "migrations": ..., "broker": ...}``, each "ok" or what is wrong."""
    checks = {"database": OK, "migrations": OK, "broker": _broker(celery)}
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {_first_line(exc)}"
        checks["migrations"] = "unknown: the database is unreachable"
        return checks
    heads = migration_heads(migrations_dir)
    if current != heads:
        checks["migrations"] = (
            f"the database is at {_revisions(current)}, the migrations' head is "
            f"{_revisions(heads)}: run `flask --app app db upgrade`"
        )
    return checks


def relay_age(engine: sa.Engine) -> float | None:
    """Seconds since a following relay's last heartbeat, rounded; None if none ever ran
    (or the database does not answer, which ``check`` reports)."""
    try:
        with engine.connect() as conn:
            age = relay_heartbeats.age_seconds(conn)
    except sa.exc.SQLAlchemyError:
        return None
    return None if age is None else round(age, 3)


class Readiness:
    """The readiness probe of one process: its engine, its migrations, its broker."""

    OK = OK

    def __init__(self, engine: sa.Engine, migrations_dir: Path, celery: Celery) -> None:
        self._engine = engine
        self._migrations_dir = migrations_dir
        self._celery = celery

    def check(self) -> dict[str, str]:
        """See ``check``."""
        return check(self._engine, self._migrations_dir, self._celery)

    def relay_age(self) -> float | None:
        """See ``relay_age``."""
        return relay_age(self._engine)


def _broker(celery: Celery) -> str:
    try:
        with celery.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception as exc:
        return f"unreachable: {_first_line(exc)}"
    return OK


def _revisions(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "no revision"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
