"""The event store is append-only at the database level: the triggers the migrations add
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), whoever sends them."""

import pytest
import sqlalchemy as sa

from tests.support.db_state import repair_event_payload, store_raw_event, stored_events
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine

per_database = pytest.mark.parametrize("db", DATABASE_KINDS)


def insert_event(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        return store_raw_event(
            conn,
            event_type="user.registered",
            schema_version=2,
            payload={"email": "ada@example.com", "name": "Ada"},
            correlation_id="c-1",
        )


@per_database
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET payload = '{}'",
        "UPDATE events SET correlation_id = 'rewritten'",
        "DELETE FROM events",
    ],
)
def test_update_and_delete_are_refused(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str, statement: str
) -> None:
    engine = make_engine(make_database(db))
    insert_event(engine)
    before = stored_events(engine)

    with (
        pytest.raises(sa.exc.DBAPIError, match="the event store is append-only"),
        engine.begin() as conn,
    ):
        conn.exec_driver_sql(statement)

    assert stored_events(engine) == before


def test_truncate_is_refused_on_postgresql(
    make_database: MakeDatabase, make_engine: MakeEngine
) -> None:
    """SQLite has no TRUNCATE: its ``DELETE FROM`` is refused above."""
    engine = make_engine(make_database("postgresql"))
    insert_event(engine)

    with pytest.raises(sa.exc.DBAPIError, match="append-only: TRUNCATE"), engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE events CASCADE")

    assert len(stored_events(engine)) == 1


@per_database
def test_a_deliberate_repair_bypasses_the_guard_only_in_its_own_transaction(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    engine = make_engine(make_database(db))
    event_id = insert_event(engine)

    repair_event_payload(engine, event_id, {"email": "ada@example.org", "name": "Ada"})

    assert stored_events(engine)[0]["payload"]["email"] == "ada@example.org"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM events")
