"""Correlation ids, malformed bodies, content types, sizes: refused clearly, nothing written."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.inprocess import Api, build_app, container
from tests.support.refusals import NoWrites, assert_payment_refused, assert_refused

HEADER = "X-Correlation-ID"
MAX_BYTES = 64 * 1024


def _command_urls(order: dict[str, Any]) -> list[str]:
    oid = order["order_id"]
    return [
        "/api/users",
        "/api/orders",
        f"/api/orders/{oid}/pay",
        f"/api/orders/{oid}/ship",
        f"/api/orders/{oid}/cancel",
    ]


URL_NAMES = ["users", "orders", "pay", "ship", "cancel"]


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for this module's tests that send only refused requests. Each checks inside
    ``NoWrites`` that its request wrote nothing, so sharing the app cannot couple them;
    the tests whose requests do write build their own (``app``)."""
    app = build_app(tmp_path_factory.mktemp("refusals"))
    yield app
    container(app).engine.dispose()


@pytest.fixture(scope="module")
def shared_order(shared_app: Flask) -> dict[str, Any]:
    api = Api(shared_app.test_client())
    return api.create_order(api.register()["user_id"])


@pytest.fixture
def shared_client(shared_app: Flask) -> FlaskClient:
    return shared_app.test_client()


@pytest.fixture(params=range(5), ids=URL_NAMES)
def command_url(request: pytest.FixtureRequest, shared_order: dict[str, Any]) -> str:
    return _command_urls(shared_order)[request.param]


# --- correlation ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    "offered", ["req-123", "a", "A.b_c:d-e", "x" * 64, "0b6d4c3e-2f7a-4c51-9a8e-5d2f1b3c4a6e"]
)
def test_a_valid_correlation_id_is_echoed_and_recorded(
    app: Flask, client: FlaskClient, offered: str
) -> None:
    response = client.post(
        "/api/users", json={"email": "ada@example.com", "name": "Ada"}, headers={HEADER: offered}
    )
    assert response.status_code == 201
    assert response.headers[HEADER] == offered
    with container(app).engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT correlation_id, causation_id FROM events")).all()
    assert [tuple(r) for r in recorded] == [(offered, offered)]


@pytest.mark.parametrize(
    "offered", ["", "x" * 65, "has space", "-leading", "ünïcode", "a/b", "a;b"]
)
def test_an_invalid_correlation_id_is_replaced_by_a_new_uuid(
    client: FlaskClient, offered: str
) -> None:
    headers = {HEADER: offered.encode("utf-8").decode("latin-1")}
    response = client.get("/healthz", headers=headers)
    assert response.headers[HEADER] != headers[HEADER]
    uuid.UUID(response.headers[HEADER])


def test_a_missing_correlation_id_is_generated_fresh_per_request(client: FlaskClient) -> None:
    ids = {client.get("/healthz").headers[HEADER] for _ in range(3)}
    assert len(ids) == 3
    for value in ids:
        uuid.UUID(value)


@pytest.mark.parametrize("path", ["/api/orders/nope", "/api/nowhere", "/api/users/x/orders"])
def test_refusals_echo_the_correlation_id_too(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={HEADER: "trace-me"})
    assert response.status_code == 404
    assert response.headers[HEADER] == "trace-me"


def test_a_validation_refusal_echoes_the_correlation_id(client: FlaskClient) -> None:
    response = client.post("/api/users", json={}, headers={HEADER: "trace-422"})
    assert response.status_code == 422
    assert response.headers[HEADER] == "trace-422"


# --- bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{", b'{"email": }', b"{'email': 'a'}", b"\xff\xfe\x00", b"nul\x00l", b"[1,]"]
)
def test_malformed_json_is_400_with_a_json_body(
    shared_app: Flask, shared_client: FlaskClient, command_url: str, raw: bytes
) -> None:
    with NoWrites(shared_app):
        assert_refused(
            shared_client.post(command_url, data=raw, content_type="application/json"), 400
        )


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_that_is_not_json_is_415(
    shared_app: Flask, shared_client: FlaskClient, command_url: str, content_type: str
) -> None:
    with NoWrites(shared_app):
        response = shared_client.post(
            command_url, data=b'{"reason": "x"}', content_type=content_type
        )
        assert_refused(response, 415)


@pytest.mark.parametrize("value", [[], [{}], "text", 0, 1.5, True, None])
def test_a_json_body_that_is_not_an_object_is_refused(
    shared_app: Flask, shared_client: FlaskClient, command_url: str, value: Any
) -> None:
    with NoWrites(shared_app):
        response = shared_client.post(
            command_url, data=json.dumps(value), content_type="application/json"
        )
        assert response.status_code in (400, 422)
        assert_refused(response, response.status_code)


def test_unknown_fields_are_422(
    shared_app: Flask, shared_client: FlaskClient, command_url: str
) -> None:
    with NoWrites(shared_app):
        refusal = assert_refused(shared_client.post(command_url, json={"unexpected": 1}), 422)
    assert "unexpected" in refusal["fields"]


@pytest.mark.parametrize("size", [MAX_BYTES + 1, 4 * MAX_BYTES])
def test_an_oversize_body_is_413_with_a_json_body(
    shared_app: Flask, shared_client: FlaskClient, command_url: str, size: int
) -> None:
    padding = "x" * (size - len('{"reason": ""}'))
    raw = json.dumps({"reason": padding}).encode()
    assert len(raw) == size
    with NoWrites(shared_app):
        assert_refused(
            shared_client.post(command_url, data=raw, content_type="application/json"), 413
        )


def test_a_body_of_exactly_the_limit_is_read(app: Flask, client: FlaskClient) -> None:
    raw = json.dumps({"email": "ada@example.com", "name": "x" * 10, "pad": ""}).encode()
    raw = raw.replace(b'"pad": ""', b'"pad": "' + b"y" * (MAX_BYTES - len(raw)) + b'"')
    assert len(raw) == MAX_BYTES
    with NoWrites(app):
        refusal = assert_refused(
            client.post("/api/users", data=raw, content_type="application/json"), 422
        )
    assert set(refusal["fields"]) == {"pad"}


@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_json_is_refused_not_a_crash(
    shared_app: Flask, shared_client: FlaskClient, command_url: str, depth: int
) -> None:
    raw = ("[" * depth + "]" * depth).encode()
    with NoWrites(shared_app):
        response = shared_client.post(command_url, data=raw, content_type="application/json")
        assert response.status_code in (400, 413, 422)
        assert_refused(response, response.status_code)


@pytest.mark.parametrize("amount", ["1e30", 1e30, 10**30, "1E+999999999"])
def test_huge_amounts_are_422_not_a_crash(
    shared_app: Flask, shared_client: FlaskClient, shared_order: dict[str, Any], amount: Any
) -> None:
    assert_payment_refused(shared_app, shared_client, shared_order, amount)


def test_charset_other_than_utf8_is_read(client: FlaskClient) -> None:
    raw = json.dumps({"email": "ada@example.com", "name": "Zoë"}).encode("utf-16")
    response = client.post("/api/users", data=raw, content_type="application/json")
    assert response.status_code == 201
    assert response.get_json()["name"] == "Zoë"


# --- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users"),
        ("PUT", "/api/users"),
        ("DELETE", "/api/orders"),
        ("GET", "/api/orders/{oid}/pay"),
        ("PATCH", "/api/orders/{oid}"),
        ("POST", "/healthz"),
        ("POST", "/api/outbox/stats"),
    ],
)
def test_wrong_methods_are_405_json(
    shared_app: Flask,
    shared_client: FlaskClient,
    shared_order: dict[str, Any],
    method: str,
    path: str,
) -> None:
    with NoWrites(shared_app):
        assert_refused(
            shared_client.open(path.format(oid=shared_order["order_id"]), method=method), 405
        )


def test_unknown_routes_are_404_json(client: FlaskClient) -> None:
    assert_refused(client.get("/nowhere"), 404)
    assert_refused(client.post("/api/orders/a/b/c", json={}), 404)
