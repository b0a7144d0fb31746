"""Bad input to the operator API must never re-drive or hide dead letters by accident."""

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.http_receiver import HttpReceiver, answer_by_path, http_receiver
from tests.support.inprocess import Api, AppFactory
from tests.support.refusals import NoWrites, assert_refused


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(answer_by_path) as r:
        yield r


@pytest.fixture
def dead_app(make_app: AppFactory, receiver: HttpReceiver) -> Flask:
    """A webhook receiver that answers 400: the registration's forward is dead-lettered."""
    app = make_app(WEBHOOK_URLS=receiver.url("/status/400"), WEBHOOK_SECRET="s")
    Api(app.test_client()).register()
    return app


def _dead(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/api/dead-letters")
    assert response.status_code == 200
    return response.get_json()["items"]


def test_the_fixture_has_one_dead_letter(dead_app: Flask) -> None:
    [item] = _dead(dead_app.test_client())
    assert (item["handler"], item["status"]) == ("forward_to_webhooks", "dead")


def test_a_filter_matching_nothing_redrives_nothing(dead_app: Flask) -> None:
    client = dead_app.test_client()
    response = client.post("/api/dead-letters/retry", json={"handler": "no_such_handler"})
    assert response.status_code == 200
    assert response.get_json()["retried"] == []
    assert len(_dead(client)) == 1


@pytest.mark.parametrize(
    "raw", [b'{"handler": "no_such_handler"', b"{handler: x}", b"\xff", b"[" * 5000]
)
def test_a_malformed_filter_body_is_400_and_redrives_nothing(dead_app: Flask, raw: bytes) -> None:
    client = dead_app.test_client()
    with NoWrites(dead_app):
        response = client.post("/api/dead-letters/retry", data=raw, content_type="application/json")
        assert_refused(response, 400)
    assert len(_dead(client)) == 1


def test_a_filter_body_that_is_not_json_is_415_and_redrives_nothing(dead_app: Flask) -> None:
    client = dead_app.test_client()
    with NoWrites(dead_app):
        response = client.post(
            "/api/dead-letters/retry", data=b"handler=nope", content_type="text/plain"
        )
        assert_refused(response, 415)
    assert len(_dead(client)) == 1


@pytest.mark.parametrize("since", ["9999999d", "99999999999999999999d"])
def test_an_absurd_look_back_is_422(dead_app: Flask, since: str) -> None:
    client = dead_app.test_client()
    assert_refused(client.get(f"/api/dead-letters?since={since}"), 422)
    with NoWrites(dead_app):
        assert_refused(client.post("/api/dead-letters/retry", json={"since": since}), 422)


@pytest.mark.parametrize("number", [2**63, 10**30])
def test_an_id_beyond_the_database_range_is_404(dead_app: Flask, number: int) -> None:
    client = dead_app.test_client()
    assert_refused(client.get(f"/api/dead-letters/{number}"), 404)
    with NoWrites(dead_app):
        assert_refused(client.post(f"/api/dead-letters/{number}/retry"), 404)
        assert_refused(client.post(f"/api/dead-letters/{number}/skip"), 404)
