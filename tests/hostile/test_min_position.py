"""``X-Min-Position`` past the newest event is refused at once (422), never waited for.

A command answers with its position only after its commit, so a position no event has
cannot be a lagging projection: it is a made-up or foreign one. Waiting for it held a web
worker for the whole READ_YOUR_WRITES_TIMEOUT_MS and ended in a 503 that invites a retry.
The timeout here is long, so a query that waited would be plain to see; the bound asserted is
a behaviour check (no wait), not a benchmark.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import Api, build_app, container
from tests.support.refusals import assert_refused

pytestmark = pytest.mark.parametrize("db", DATABASE_KINDS)

TIMEOUT_MS = 5000
NO_WAIT_SECONDS = TIMEOUT_MS / 1000 / 2
ITEMS = (("min-position", 1, "2.00"),)


@pytest.fixture
def make_app(tmp_path: Path, make_database: MakeDatabase, db: str) -> Iterator[Any]:
    """``make_app(eager)``: the app on a fresh migrated database, a long read-your-writes wait.

    Not eager: commands only publish, nothing runs the projections, so they lag for good.
    """
    apps: list[Flask] = []

    def make(eager: bool = True) -> Flask:
        url = None if db == "sqlite" else make_database(db).url
        env = {"READ_YOUR_WRITES_TIMEOUT_MS": str(TIMEOUT_MS)}
        apps.append(build_app(tmp_path / f"app-{len(apps)}", env, eager=eager, database_url=url))
        return apps[-1]

    yield make
    for app in apps:
        container(app).engine.dispose()


def _query(client: FlaskClient, path: str, position: int) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path, headers={"X-Min-Position": str(position)})
    return response, time.monotonic() - started


def _assert_refused_at_once(response: Any, elapsed: float, position: int, newest: int) -> None:
    refusal = assert_refused(response, 422)
    assert refusal["error"] == "validation_failed"
    (message,) = refusal["fields"]["X-Min-Position"]
    assert f"no event has position {position} (the newest is {newest})" in message, message
    assert elapsed < NO_WAIT_SECONDS, f"waited {elapsed:.2f} s for position {position}"


def test_a_position_past_the_newest_event_is_refused_at_once(make_app: Any) -> None:
    client = make_app().test_client()
    api = Api(client)
    user = api.register()
    order = api.create_order(user["user_id"], *ITEMS)
    newest = int(client.get("/api/events?limit=1000").get_json()["items"][-1]["position"])

    for path in (
        f"/api/users/{user['user_id']}",
        f"/api/orders/{order['order_id']}",
        f"/api/users/{user['user_id']}/orders",
    ):
        response, elapsed = _query(client, path, newest)
        assert response.status_code == 200, response.get_data(as_text=True)
        for position in (newest + 1, 2**63 - 1):
            response, elapsed = _query(client, path, position)
            _assert_refused_at_once(response, elapsed, position, newest)


def test_a_lagging_projection_does_not_make_a_made_up_position_wait(make_app: Any) -> None:
    """Projections that really lag still make a held position wait; one past it, never."""
    client = make_app(eager=False).test_client()
    user_id = Api(client).register()["user_id"]
    position = int(client.get("/api/events").get_json()["items"][-1]["position"])

    response, elapsed = _query(client, f"/api/users/{user_id}", position + 1)

    _assert_refused_at_once(response, elapsed, position + 1, position)


def test_an_empty_store_refuses_every_position_but_zero(make_app: Any) -> None:
    client = make_app().test_client()

    response, elapsed = _query(client, "/api/users/nobody", 1)

    _assert_refused_at_once(response, elapsed, 1, 0)
    response, _ = _query(client, "/api/users/nobody", 0)
    assert assert_refused(response, 404)["error"] == "not_found"


def test_the_document_names_the_refusal_wherever_the_header_is_taken(make_app: Any) -> None:
    document = make_app().test_client().get("/api/openapi.json").get_json()
    parameter = document["components"]["parameters"]["MinPosition"]
    assert "422" in parameter["description"] and "newest" in parameter["description"]

    taking = {
        path: item
        for path, item in document["paths"].items()
        if {"$ref": "#/components/parameters/MinPosition"} in item.get("parameters", [])
    }
    assert len(taking) == 3, sorted(taking)
    for path, item in taking.items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            refusal = operation["responses"].get("422")
            assert refusal is not None, (path, method)
            assert "past the newest event" in refusal["description"], (path, method)
