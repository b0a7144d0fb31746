"""The OpenAPI document covers every route, and Swagger UI is served from this process."""

import re
import uuid
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.api import auth
from app.api.auth import Access
from tests.support.inprocess import AppFactory

UNDOCUMENTED_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
BODY_OPERATIONS = {
    ("/api/users", "post"): True,
    ("/api/orders", "post"): True,
    ("/api/orders/{order_id}/pay", "post"): True,
    ("/api/orders/{order_id}/ship", "post"): False,
    ("/api/orders/{order_id}/cancel", "post"): False,
    ("/api/dead-letters/retry", "post"): False,
}


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def test_the_document_is_openapi_3_and_covers_every_route(app: Flask, client: FlaskClient) -> None:
    document = _document(client)
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS or rule.endpoint.endswith("static"):
            continue
        if auth.access_of(app, rule.endpoint) is Access.SIGN_IN:
            continue  # pages for people (HTML), not the JSON API
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (_openapi_path(rule.rule), method.lower()) in documented, (rule.rule, method)


def test_every_operation_documents_its_answers_and_headers(client: FlaskClient) -> None:
    document = _document(client)
    for path, item in document["paths"].items():
        parameters = [_resolve(document, p) for p in item.get("parameters", [])]
        assert "X-Correlation-ID" in {p["name"] for p in parameters if p["in"] == "header"}, path
        for method, operation in ((m, o) for m, o in item.items() if m != "parameters"):
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation["operationId"], where
            responses = operation["responses"]
            assert "default" in responses, where
            for status, response in responses.items():
                response = _resolve(document, response)
                assert "X-Correlation-ID" in response.get("headers", {}), (where, status)
                if (status.startswith(("4", "5")) or status == "default") and path != "/readyz":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (where, status)
            successes = [s for s in responses if s.startswith("2")]
            assert successes, where
            for status in successes:
                content = _resolve(document, responses[status])["content"]
                assert content and all("schema" in media for media in content.values()), where


def test_request_bodies_come_from_the_schemas(client: FlaskClient) -> None:
    document = _document(client)
    for (path, method), required in BODY_OPERATIONS.items():
        body = document["paths"][path][method]["requestBody"]
        assert body["required"] is required, path
        schema = _resolve(document, body["content"]["application/json"]["schema"])
        assert schema["type"] == "object", path
    order = _resolve(document, {"$ref": "#/components/schemas/CreateOrder"})
    assert sorted(order["required"]) == ["items", "user_id"]
    item = _resolve(document, order["properties"]["items"]["items"])
    assert {"sku", "quantity", "unit_price"} == set(item["required"])
    assert "oneOf" in item["properties"]["unit_price"]
    listing = document["paths"]["/api/dead-letters"]["get"]["parameters"]
    assert {"handler", "event_type", "error", "since", "status", "limit", "offset"} <= {
        p["name"] for p in listing
    }


def test_the_error_shape_and_the_headers_are_components(client: FlaskClient) -> None:
    components = _document(client)["components"]
    error = components["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "message", "fields"}
    assert error["required"] == ["error", "message"]
    parameters = {p["name"]: p for p in components["parameters"].values()}
    assert {"X-Correlation-ID", "Idempotency-Key", "X-Min-Position"} <= set(parameters)
    assert all(parameters[name]["in"] == "header" for name in parameters)
    assert {
        "CorrelationId",
        "EventPosition",
        "IdempotentReplayed",
        "RetryAfter",
        "WwwAuthenticate",
    } <= set(components["headers"])


COMMANDS = [path for path, method in BODY_OPERATIONS if path.startswith(("/api/users", "/api/o"))]
QUERIES = ["/api/orders/{order_id}", "/api/users/{user_id}", "/api/users/{user_id}/orders"]


def _headers(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    return set(_resolve(document, response).get("headers", {}))


def test_the_headers_the_api_answers_with_are_documented_where_they_occur(
    client: FlaskClient,
) -> None:
    """Idempotent-Replayed on any answer of a command (a replayed refusal too), X-Event-Position
    on its success, Retry-After on a lagging query's 503, WWW-Authenticate on every 401."""
    document = _document(client)
    for path in COMMANDS:
        responses = document["paths"][path]["post"]["responses"]
        assert "409" in responses, f"{path}: idempotency_key_in_flight"
        for status, response in responses.items():
            headers = _headers(document, response)
            if status.startswith("2"):
                assert "X-Event-Position" in headers, (path, status)
            if status not in ("default", "401"):
                assert "Idempotent-Replayed" in headers, (path, status)
    for path in QUERIES:
        lagging = document["paths"][path]["get"]["responses"]["503"]
        assert "Retry-After" in _headers(document, lagging), path
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m != "parameters"):
            if "401" in operation["responses"]:
                unauthorized = operation["responses"]["401"]
                assert "WWW-Authenticate" in _headers(document, unauthorized), (method, path)


def test_security_follows_the_access_categories(app: Flask, client: FlaskClient) -> None:
    document = _document(client)
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    expected: dict[Access, list[dict[str, list[str]]]] = {
        Access.PUBLIC: [],
        Access.API: [{"bearerAuth": []}, {}],
        Access.OPERATIONS: [{"bearerAuth": []}],
    }
    for rule in app.url_map.iter_rules():
        item = document["paths"].get(_openapi_path(rule.rule))
        if item is None:
            continue
        category = auth.access_of(app, rule.endpoint)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = item[method.lower()]
            assert operation["security"] == expected[category], rule.rule
            assert ("401" in operation["responses"]) is (category is not Access.PUBLIC)


class _Assets(HTMLParser):
    """What a page loads: script sources and linked files (not the links a person follows)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            return
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_swagger_ui_and_its_assets_are_served_from_this_process(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    parser = _Assets()
    parser.feed(html)
    assert len(parser.urls) >= 3, parser.urls
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", html), "an asset from elsewhere"
    kinds = {".js": "javascript", ".css": "text/css"}
    for url in parser.urls:
        assert url.startswith("/api/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert kinds[url[url.rindex(".") :]] in asset.content_type, (url, asset.content_type)
        assert len(asset.get_data()) > 1000, url


def _error_examples(document: dict[str, Any]) -> dict[str, set[str]]:
    """Each refusal status's documented example codes, over every operation and component."""
    found: dict[str, set[str]] = {}
    responses = [
        response
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
        for response in operation["responses"].items()
    ]
    responses += list(document["components"]["responses"].items())
    for status, response in responses:
        if not status.isdigit() or int(status) < 400:
            continue
        body = _resolve(document, response).get("content", {}).get("application/json", {})
        assert "example" in body, (status, response)
        found.setdefault(status, set()).add(body["example"]["error"])
    return found


def test_each_refusal_is_documented_with_the_code_the_api_answers_it_with(
    make_app: AppFactory,
) -> None:
    client = make_app(ADMIN_TOKEN="x" * 40, MAX_REQUEST_BYTES="2000").test_client()
    examples = _error_examples(_document(client))
    user = {"email": "ada@example.com", "name": "Ada"}
    assert client.post("/api/users", json=user).status_code == 201
    answers = {
        "400": client.post("/api/users", data="{", content_type="application/json"),
        "401": client.get("/api/outbox/stats"),
        "404": client.get(f"/api/orders/{uuid.uuid4()}"),
        "409": client.post("/api/users", json=user),
        "413": client.post("/api/users", json={**user, "name": "x" * 5000}),
        "415": client.post("/api/users", data="{}", content_type="text/plain"),
        "422": client.post("/api/users", json={**user, "email": "not-an-email"}),
    }
    for status, response in answers.items():
        assert str(response.status_code) == status, (status, response.get_data(as_text=True))
        assert response.get_json()["error"] in examples[status], (status, examples[status])
    assert all(
        codes == {"validation_failed"} or "validation_failed" not in codes
        for status, codes in examples.items()
        if status != "422"
    ), examples
    assert examples["422"] == {"validation_failed"}
