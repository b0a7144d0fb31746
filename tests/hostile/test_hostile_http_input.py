"""Text no database can store, and a sign-in ``next`` that cannot go into a header: each is
refused or dropped with a 4xx or a safe redirect, never a 500, and changes nothing.

A lone surrogate (``"\\ud800"`` in JSON) has no UTF-8 form, so psycopg and sqlite3 both raise
on it; the NUL character's twin (tests/system/test_nul_characters.py), refused by the same
rule. CR/LF in ``next`` made the redirect's ``Location`` header raise in Werkzeug.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import Api, build_app, container, row_counts
from tests.support.refusals import assert_refused

SURROGATE_MESSAGE = "must not contain a lone surrogate"
ADMIN_TOKEN = "hostile-input-admin-token-0123456789abcdef"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LONE = ["\ud800", "\udfff", "ab\udc00\ud800cd", "\ud83d"]
"""A high one, a low one, a pair in the wrong order, half of an emoji."""


@pytest.fixture
def app(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Flask]:
    """The app on a migrated database of the kind the test is parametrized with (eager)."""
    kind = getattr(request, "param", "sqlite")
    database_url = None if kind == "sqlite" else make_database(kind).url
    built = build_app(tmp_path, {"ADMIN_TOKEN": ADMIN_TOKEN}, database_url=database_url)
    yield built
    container(built).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_TOKEN}"
    return client


def _bodies(user_id: str, order: dict[str, Any], lone: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, JSON body): a lone surrogate in each kind of place a command's text goes."""
    pay, cancel = (f"/api/orders/{order['order_id']}/{verb}" for verb in ("pay", "cancel"))
    item = {"sku": f"bo{lone}ok", "quantity": 1, "unit_price": "1.00"}
    return [
        ("/api/users", {"email": "s@example.com", "name": f"a{lone}b"}),
        ("/api/users", {"email": f"s{lone}@example.com", "name": "S"}),
        ("/api/orders", {"user_id": user_id, "items": [item]}),
        ("/api/orders", {"user_id": f"{user_id}{lone}", "items": [item]}),
        (cancel, {"reason": lone}),
        (pay, {"amount": order["total"], lone: 1}),
        ("/api/dead-letters/retry", {"error": f"boom{lone}"}),
    ]


@pytest.mark.parametrize("app", DATABASE_KINDS, indirect=True)
@pytest.mark.parametrize("lone", LONE, ids=["high", "low", "reversed-pair", "half-emoji"])
def test_a_lone_surrogate_in_a_json_body_is_refused_and_changes_nothing(
    client: FlaskClient, app: Flask, lone: str
) -> None:
    api = Api(client)
    user_id = api.register()["user_id"]
    order = api.create_order(user_id)
    before = row_counts(app)

    for path, body in _bodies(user_id, order, lone):
        for headers in ({}, {"Idempotency-Key": f"surrogate-{path}"}):
            # Flask's JSON encoder writes the lone surrogate as its \uXXXX escape.
            response = client.post(path, json=body, headers=headers)
            refusal = assert_refused(response, 422)
            assert refusal["error"] == "validation_failed", (path, body, refusal)
            # Strict UTF-8 JSON (RFC 8259): a key is named with its surrogate escaped as text.
            json.dumps(refusal, ensure_ascii=False).encode()
            assert SURROGATE_MESSAGE in str(refusal["fields"]), (path, refusal)

    sku = client.post("/api/orders", json=_bodies(user_id, order, lone)[2][1])
    (message,) = assert_refused(sku, 422)["fields"]["items"]["0"]["sku"]
    assert message.startswith(SURROGATE_MESSAGE)
    assert row_counts(app) == before


def test_a_key_with_a_lone_surrogate_is_named_with_its_escape_as_text(client: FlaskClient) -> None:
    """The refusal stays valid UTF-8 JSON: a strict client can read which key it was."""
    response = client.post("/api/users", json={"email": "k@example.com", "name\udfff": "K"})

    (key,) = assert_refused(response, 422)["fields"]
    assert key == "name\\udfff"


@pytest.mark.parametrize("app", DATABASE_KINDS, indirect=True)
def test_the_raw_bytes_of_a_surrogate_are_refused_too(client: FlaskClient, app: Flask) -> None:
    """Python's JSON parser decodes bytes with ``surrogatepass``: ED A0 80 becomes U+D800."""
    before = row_counts(app)
    body = b'{"email": "raw@example.com", "name": "a\xed\xa0\x80b"}'

    response = client.post("/api/users", data=body, content_type="application/json")

    assert assert_refused(response, 422)["fields"]["name"][0].startswith(SURROGATE_MESSAGE)
    assert row_counts(app) == before


@pytest.mark.parametrize("app", DATABASE_KINDS, indirect=True)
def test_a_surrogate_pair_is_one_character_and_is_stored(client: FlaskClient) -> None:
    """Only a lone half is refused: the escaped pair of an emoji is ordinary text."""
    body = '{"email": "pair@example.com", "name": "Ada \\ud83d\\ude00"}'

    created = client.post("/api/users", data=body, content_type="application/json")

    assert created.status_code == 201, created.get_data(as_text=True)
    user_id = created.get_json()["user_id"]
    assert Api(client).get(f"/api/users/{user_id}")["name"] == "Ada \U0001f600"


def _sign_in(app: Flask, next_path: str, token: str = ADMIN_TOKEN) -> Any:
    client = app.test_client()
    match = CSRF_FIELD.search(client.get("/ops/sign-in").get_data(as_text=True))
    assert match, "no CSRF field on the sign-in form"
    form = {"csrf_token": match.group(1), "token": token, "next": next_path}
    return client.post("/ops/sign-in", data=form)


@pytest.mark.parametrize(
    "next_path",
    [
        "/ops\r\nSet-Cookie: session=forged",
        "/ops/dead-letters\nLocation: https://evil.example/",
        "/ops\r",
        "/ops\t",
        "/ops\x1b[2J",
        "//evil.example/ops",
        "https://evil.example/ops",
        "/\\evil.example",
    ],
)
def test_a_sign_in_next_that_is_not_a_path_of_the_page_is_dropped(
    app: Flask, next_path: str
) -> None:
    signed_in = _sign_in(app, next_path)
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    assert signed_in.headers["Location"] == "/ops"
    assert "Set-Cookie: session=forged" not in str(signed_in.headers)

    refused = _sign_in(app, next_path, token="not the token")
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert 'name="next" value="/ops"' in refused.get_data(as_text=True)

    form = app.test_client().get("/ops/sign-in", query_string={"next": next_path})
    assert form.status_code == 200, form.get_data(as_text=True)
    assert 'name="next" value="/ops"' in form.get_data(as_text=True)


def test_a_sign_in_next_that_is_a_path_of_the_page_is_kept(app: Flask) -> None:
    target = "/ops/dead-letters?handler=send_welcome_email"
    signed_in = _sign_in(app, target)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == target
