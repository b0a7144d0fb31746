"""Access categories: every route has one, and each refuses (401) what it must.

The table below is the contract: operational paths need ADMIN_TOKEN, command and query
paths need one of API_TOKENS (or ADMIN_TOKEN), probes and the API document are open. Every
route the app has is checked against it, so a new route cannot slip in unclassified.
"""

from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from app.api import auth
from app.api.auth import Access
from tests.support.inprocess import AppFactory
from tests.support.refusals import NoWrites, assert_refused

ADMIN_TOKEN = "admin-token-for-access-tests-0123456789"
API_TOKEN = "api-token-for-access-tests"
OTHER_API_TOKEN = "another-api-token"

OPERATIONS_PREFIXES = (
    "/api/outbox/",
    "/api/handlers",
    "/api/dead-letters",
    "/api/events",
    "/api/traces",
)
OPERATIONS_PATHS = ("/metrics",)
SIGN_IN_PREFIX = "/ops"
API_PREFIXES = ("/api/users", "/api/orders")
PUBLIC_PATHS = (
    "/healthz",
    "/readyz",
    "/api/openapi.json",
    "/api/docs",
    "/api/asyncapi.json",
    "/api/asyncapi",
)
PUBLIC_PREFIXES = ("/api/docs/assets/", "/static/")


def expected_access(path: str) -> Access:
    if path in OPERATIONS_PATHS or path.startswith(OPERATIONS_PREFIXES):
        return Access.OPERATIONS
    if path.startswith(SIGN_IN_PREFIX):
        return Access.SIGN_IN
    if path.startswith(API_PREFIXES):
        return Access.API
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return Access.PUBLIC
    raise AssertionError(f"{path} is in no category of the access table: add it there")


def _url(rule: Rule) -> str:
    """The rule with every variable filled in (a number or a UUID that names nothing)."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        values[name] = (
            7 if converter == "IntegerConverter" else "0f0e0d0c-0b0a-4090-8070-605040302010"
        )
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<{name}>", str(value))
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<path:{name}>", "x.css")
    return path


def _calls(app: Flask, category: Access) -> list[tuple[str, str]]:
    calls = []
    for rule in app.url_map.iter_rules():
        if auth.access_of(app, rule.endpoint) is category:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                calls.append((method, _url(rule)))
    assert calls, f"no {category} routes"
    return calls


@pytest.fixture
def guarded(make_app: AppFactory) -> Flask:
    return make_app(ADMIN_TOKEN=ADMIN_TOKEN, API_TOKENS=f"{API_TOKEN},{OTHER_API_TOKEN}")


def test_every_route_is_in_the_category_the_table_gives(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        assert auth.access_of(app, rule.endpoint) is expected_access(rule.rule), rule.rule


def test_a_route_that_declares_nothing_is_operational(make_app: AppFactory) -> None:
    app = make_app(ADMIN_TOKEN=ADMIN_TOKEN)
    app.add_url_rule("/undeclared", "undeclared", lambda: "x")
    assert auth.access_of(app, "undeclared") is Access.OPERATIONS
    assert_refused(app.test_client().get("/undeclared"), 401)


def test_a_page_that_signs_people_in_itself_is_let_through(make_app: AppFactory) -> None:
    app = make_app(ADMIN_TOKEN=ADMIN_TOKEN)

    @auth.access(Access.SIGN_IN)
    def page() -> str:
        return "its own sign-in decides"

    app.add_url_rule("/ops-like", "ops_like", page)
    assert app.test_client().get("/ops-like").status_code == 200
    (only_api,) = auth.open_endpoints_report(app)
    assert only_api.startswith("API_TOKENS is unset") and "/ops-like" not in only_api
    open_app = make_app()
    open_app.add_url_rule("/ops-like", "ops_like", page)
    assert "/ops-like" in auth.open_endpoints_report(open_app)[0]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_the_admin_token_every_operational_endpoint_answers_401(guarded: Flask) -> None:
    client = guarded.test_client()
    with NoWrites(guarded):
        for method, path in _calls(guarded, Access.OPERATIONS):
            for headers in ({}, _bearer(API_TOKEN), _bearer("wrong"), {"Authorization": ""}):
                response = client.open(path, method=method, json={}, headers=headers)
                refusal = assert_refused(response, 401)
                assert "ADMIN_TOKEN" in refusal["message"], (method, path)
                assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


SIGN_IN_DOOR = {"ops.sign_in_form", "ops.sign_in_submit"}


def test_without_a_session_every_ops_page_and_form_answers_401(guarded: Flask) -> None:
    """The ops page is operational too: only its sign-in form opens without the token."""
    client = guarded.test_client()
    pages = [
        rule
        for rule in guarded.url_map.iter_rules()
        if auth.access_of(guarded, rule.endpoint) is Access.SIGN_IN
        and rule.endpoint not in SIGN_IN_DOOR
    ]
    assert len(pages) >= 6, pages
    with NoWrites(guarded):
        for rule in pages:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                for headers in ({}, _bearer(API_TOKEN), _bearer("wrong")):
                    response = client.open(
                        _url(rule), method=method, data={"csrf_token": "x"}, headers=headers
                    )
                    assert response.status_code == 401, (method, rule.rule, headers)
                    page = response.get_data(as_text=True).lower()
                    assert "sign in" in page, (method, rule.rule)


def test_with_the_admin_token_operational_endpoints_answer(guarded: Flask) -> None:
    client = guarded.test_client()
    for method, path in _calls(guarded, Access.OPERATIONS):
        response = client.open(path, method=method, json={}, headers=_bearer(ADMIN_TOKEN))
        assert response.status_code != 401, (method, path)


def test_with_api_tokens_commands_and_queries_need_one(guarded: Flask) -> None:
    client = guarded.test_client()
    with NoWrites(guarded):
        for method, path in _calls(guarded, Access.API):
            for headers in ({}, _bearer("wrong"), {"Authorization": f"Basic {API_TOKEN}"}):
                response = client.open(path, method=method, json={}, headers=headers)
                assert_refused(response, 401)
    for method, path in _calls(guarded, Access.API):
        for token in (API_TOKEN, OTHER_API_TOKEN, ADMIN_TOKEN):
            response = client.open(path, method=method, json={}, headers=_bearer(token))
            assert response.status_code != 401, (method, path, token)


def test_the_admin_token_and_an_api_token_both_run_commands(guarded: Flask) -> None:
    client = guarded.test_client()
    for n, token in enumerate((API_TOKEN, ADMIN_TOKEN)):
        body = {"email": f"token{n}@example.com", "name": "T"}
        created = client.post("/api/users", json=body, headers=_bearer(token))
        assert created.status_code == 201, created.get_data(as_text=True)
        user_id = created.get_json()["user_id"]
        assert client.get(f"/api/users/{user_id}", headers=_bearer(token)).status_code == 200


def test_public_endpoints_need_no_token(guarded: Flask) -> None:
    client = guarded.test_client()
    for path in (
        "/healthz",
        "/api/openapi.json",
        "/api/docs",
        "/api/docs/assets/swagger-ui.css",
        "/api/asyncapi.json",
        "/api/asyncapi",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/readyz").status_code in (200, 503)


def test_without_api_tokens_commands_and_queries_are_open(make_app: AppFactory) -> None:
    app = make_app(ADMIN_TOKEN=ADMIN_TOKEN)
    client = app.test_client()
    assert (
        client.post("/api/users", json={"email": "o@example.com", "name": "O"}).status_code == 201
    )
    assert_refused(client.get("/api/outbox/stats"), 401)


def test_the_start_report_names_what_is_open(make_app: AppFactory) -> None:
    open_app = make_app()
    report = auth.open_endpoints_report(open_app)
    assert len(report) == 2
    assert report[0].startswith("ADMIN_TOKEN is unset") and "/api/outbox/stats" in report[0]
    assert report[1].startswith("API_TOKENS is unset") and "/api/orders" in report[1]
    assert "/healthz" not in " ".join(report)
    only_admin = make_app(ADMIN_TOKEN=ADMIN_TOKEN)
    assert [line.split(":")[0] for line in auth.open_endpoints_report(only_admin)] == [
        "API_TOKENS is unset"
    ]
    closed = make_app(ADMIN_TOKEN=ADMIN_TOKEN, API_TOKENS=API_TOKEN)
    assert auth.open_endpoints_report(closed) == []
