"""The event catalog over HTTP and on the command line.

``/api/asyncapi.json`` serves the generated document and ``/api/asyncapi`` renders it, both
open like the OpenAPI document even when tokens guard everything else; the page shows each
event, version, field, consumer and example, loads nothing from elsewhere, and is linked
from Swagger UI and the ops page. ``flask events catalog`` prints and writes the same text.
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.application.event_handlers.registry import HANDLERS
from app.infrastructure.messaging import asyncapi, schema_snapshot
from tests.support.inprocess import AppFactory

ADMIN_TOKEN = "catalog-admin-token-0123456789abcdef"


@pytest.fixture
def guarded(make_app: AppFactory) -> FlaskClient:
    """Tokens set for every guarded category; the catalog must still answer without one."""
    return make_app(ADMIN_TOKEN=ADMIN_TOKEN, API_TOKENS="catalog-api-token").test_client()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        elif attributes.get("src") or attributes.get("href"):
            self.loads.append(attributes.get("src") or attributes.get("href") or "")


def _page(client: FlaskClient, path: str) -> tuple[str, _Page]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    page = _Page()
    page.feed(html)
    return html, page


def test_the_document_is_served_without_a_token(guarded: FlaskClient) -> None:
    response = guarded.get("/api/asyncapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == asyncapi.current()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_page_shows_every_event_version_field_consumer_and_example(
    guarded: FlaskClient,
) -> None:
    html, page = _page(guarded, "/api/asyncapi")
    assert page.loads == [], "the page loads nothing: its only style is inline"
    for event_type, versions in schema_snapshot.load()["events"].items():
        assert event_type in page.ids
        for version, fields in versions.items():
            assert f"{event_type}.v{version}" in page.ids
            for field in fields:
                assert f"<code>{field}</code>" in html, (event_type, version, field)
    for spec in HANDLERS:
        assert f"<code>{spec.task_name}</code>" in html, spec.name
    assert html.count('<pre class="example">') == len(asyncapi.current()["components"]["messages"])
    for header in ("X-Outboxflow-Signature", "Idempotency-Key", "X-Event-Type"):
        assert f"<code>{header}</code>" in html
    assert {"/api/asyncapi.json", "/api/docs", "/ops"} <= set(page.links)
    assert all(link.startswith(("/", "#")) for link in page.links), page.links


def test_descriptions_reach_the_page_escaped_with_their_code_marked(
    guarded: FlaskClient,
) -> None:
    html, _ = _page(guarded, "/api/asyncapi")
    assert "added <code>currency</code> (ISO 4217)" in html  # OrderCreated's docstring
    assert re.search(r"<code>&lt;event_id&gt;:forward_to_webhooks</code>", html)


def test_swagger_ui_and_the_ops_page_link_to_the_catalog(make_app: AppFactory) -> None:
    client = make_app().test_client()  # no ADMIN_TOKEN: the ops page needs no sign-in
    for path in ("/api/docs", "/ops"):
        _, page = _page(client, path)
        assert "/api/asyncapi" in page.links, (path, page.links)


def test_the_document_is_in_the_openapi_document(guarded: FlaskClient) -> None:
    paths = guarded.get("/api/openapi.json").get_json()["paths"]
    assert "application/json" in paths["/api/asyncapi.json"]["get"]["responses"]["200"]["content"]
    assert "text/html" in paths["/api/asyncapi"]["get"]["responses"]["200"]["content"]
    assert paths["/api/asyncapi"]["get"]["security"] == []


def test_the_command_prints_what_is_served(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["events", "catalog"])
    assert result.exit_code == 0, result.output
    assert result.output == asyncapi.current_json()
    assert json.loads(result.output)["asyncapi"] == "3.0.0"


def test_the_command_writes_the_committed_copy_and_says_when_it_is_stale(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "asyncapi.json"
    target.write_text('{"asyncapi": "3.0.0"}\n')
    monkeypatch.setattr(asyncapi, "CATALOG_PATH", target)
    stale = app.test_cli_runner().invoke(args=["events", "catalog"])
    assert stale.exit_code == 1
    assert "is out of date: run --write" in stale.output
    written = app.test_cli_runner().invoke(args=["events", "catalog", "--write"])
    assert written.exit_code == 0, written.output
    assert target.read_text() == asyncapi.current_json()
    assert app.test_cli_runner().invoke(args=["events", "catalog"]).exit_code == 0


def test_the_command_will_not_write_ahead_of_the_wire_contract(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version the committed contract lacks (here: all of them) is not catalogued."""
    target = tmp_path / "asyncapi.json"
    monkeypatch.setattr(asyncapi, "CATALOG_PATH", target)
    empty: schema_snapshot.Snapshot = {"events": {}, "handler_tasks": {}, "subscriptions": {}}
    monkeypatch.setattr(schema_snapshot, "load", lambda: empty)
    result = app.test_cli_runner().invoke(args=["events", "catalog", "--write"])
    assert result.exit_code == 1
    assert "events schema --write` first" in result.output
    assert not target.exists()
