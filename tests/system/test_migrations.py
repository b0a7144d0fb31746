"""Migrations are the only source of the schema: they build it from nothing, match the
table definitions exactly (autogenerate finds no difference), and unwind cleanly."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import metadata
from tests.support.databases import Database, run_flask
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine

pytestmark = [pytest.mark.system, pytest.mark.parametrize("db", DATABASE_KINDS)]

NO_CHANGES = "No new upgrade operations detected"
AT_HEAD = "(head)"
"""How ``flask db current`` marks a revision that is the newest."""


def flask_db(database: Database, instance: Path, *args: str) -> str:
    env = {"DATABASE_URL": database.url, "INSTANCE_DIR": str(instance)}
    done = run_flask(["db", *args], env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"flask db {' '.join(args)} failed:\n{output}"
    return output


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_upgrade_builds_exactly_the_declared_schema(
    make_database: MakeDatabase, make_engine: MakeEngine, tmp_path: Path, db: str
) -> None:
    database = make_database(db, migrated=False)
    engine = make_engine(database)
    assert table_names(engine) == set()

    flask_db(database, tmp_path, "upgrade")

    assert table_names(engine) == set(metadata.tables) | {"alembic_version"}
    assert AT_HEAD in flask_db(database, tmp_path, "current")
    assert NO_CHANGES in flask_db(database, tmp_path, "check")


def test_check_notices_a_schema_that_drifted(
    make_database: MakeDatabase, make_engine: MakeEngine, tmp_path: Path, db: str
) -> None:
    database = make_database(db)
    with make_engine(database).begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_correlation_id")

    env = {"DATABASE_URL": database.url, "INSTANCE_DIR": str(tmp_path)}
    done = run_flask(["db", "check"], env)

    assert done.returncode != 0, "flask db check must fail when the schema differs"
    assert "ix_events_correlation_id" in done.stdout + done.stderr


def test_downgrade_to_base_and_upgrade_again(
    make_database: MakeDatabase, make_engine: MakeEngine, tmp_path: Path, db: str
) -> None:
    database = make_database(db)
    engine = make_engine(database)

    flask_db(database, tmp_path, "downgrade", "base")
    assert table_names(engine) <= {"alembic_version"}

    flask_db(database, tmp_path, "upgrade")
    assert table_names(engine) == set(metadata.tables) | {"alembic_version"}
    assert NO_CHANGES in flask_db(database, tmp_path, "check")


IDEMPOTENCY_KEYS = sa.table(
    "idempotency_keys",
    *map(sa.column, ("caller", "key", "fingerprint", "status", "claimed_at", "expires_at")),
)


def test_idempotency_keys_from_before_callers_join_the_anonymous_scope(
    make_database: MakeDatabase, make_engine: MakeEngine, tmp_path: Path, db: str
) -> None:
    database = make_database(db, migrated=False)
    engine = make_engine(database)
    flask_db(database, tmp_path, "upgrade", "0007_projection_checkpoints")
    row = {
        "key": "k",
        "fingerprint": "f" * 64,
        "status": "done",
        "claimed_at": "2026-12-01 00:00:00+00:00",
        "expires_at": "2026-12-02 00:00:00+00:00",
    }
    with engine.begin() as conn:
        conn.execute(IDEMPOTENCY_KEYS.insert().values(row))

    flask_db(database, tmp_path, "upgrade")
    with engine.begin() as conn:
        stored = conn.execute(sa.select(IDEMPOTENCY_KEYS.c.caller, IDEMPOTENCY_KEYS.c.key)).all()
        assert [tuple(r) for r in stored] == [("anonymous", "k")]
        conn.execute(IDEMPOTENCY_KEYS.insert().values({**row, "caller": "c0ffee"}))

    flask_db(database, tmp_path, "downgrade", "0007_projection_checkpoints")
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT key, fingerprint FROM idempotency_keys")).all()
    assert [tuple(r) for r in kept] == [("k", "f" * 64)]
