"""Every event the app really stores has its message in the catalog, and matches its schema.

A short history through the HTTP API (eager mode, so the reactions run and record their own
events too) stores one event of every type; each stored row, as the envelope the relay
publishes and the webhook sender POSTs, is validated against its message's payload schema
in the served document. On SQLite and on PostgreSQL, whose column types (JSON, timestamps
with time zone) hand the rows back differently.
"""

from pathlib import Path

import pytest
import sqlalchemy as sa
from jsonschema.exceptions import best_match

from app.domain.events import EVENT_CLASSES
from app.infrastructure.messaging.event_messages import message_id
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import events
from tests.support.asyncapi_specs import schema_validator
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import Api, build_app, container


@pytest.mark.parametrize("database", DATABASE_KINDS)
def test_every_stored_event_is_valid_for_its_catalog_message(
    database: str, tmp_path: Path, make_database: MakeDatabase
) -> None:
    url = None if database == "sqlite" else make_database(database).url
    app = build_app(tmp_path, database_url=url)
    try:
        api = Api(app.test_client())
        user = api.register("grace@example.com", "Grace Hopper")["user_id"]
        kept = api.create_order(user, ("book-42", 2, "19.90"), ("pen", 3, "2.50"))
        api.pay(kept)
        api.ship(kept)
        returned = api.create_order(user)
        api.pay(returned)
        api.cancel(returned, "changed my mind")
        document = app.test_client().get("/api/asyncapi.json").get_json()

        with container(app).engine.connect() as conn:
            rows = conn.execute(sa.select(events).order_by(events.c.position)).all()
        stored = [envelope_from_row(row).to_dict() for row in rows]
        assert {e["event_type"] for e in stored} == set(EVENT_CLASSES), "a type never stored"
        for envelope in stored:
            message = message_id(envelope["event_type"], envelope["schema_version"])
            assert message in document["components"]["messages"], message
            pointer = f"#/components/messages/{message}/payload"
            error = best_match(schema_validator(document, pointer).iter_errors(envelope))
            assert error is None, f"{message} {error.json_path}: {error.message}"
    finally:
        container(app).engine.dispose()
