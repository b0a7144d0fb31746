"""The ops page's backfill: the Handlers table shows each handler's newest run, and a
confirmation form (signed in, with its CSRF token) starts one as the API does."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.infrastructure.persistence.tables import events
from tests.fakes import FakeWebhooks
from tests.support.inprocess import Api, build_app, container

TOKEN = "ops-backfill-admin-token-0123456789abcdef"
SETTINGS = {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "ops-backfill-key"}
WEBHOOKS = {"WEBHOOK_URLS": "http://127.0.0.1:9/partner|partner-secret"}
HANDLER = "forward_to_webhooks"
PAGE = f"/ops/handlers/{HANDLER}/backfill"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """History recorded without the handler, then an app that enables it (same database)."""
    before = build_app(tmp_path / "before", SETTINGS, webhooks=FakeWebhooks())
    api = Api(before.test_client())
    api.pay(api.create_order(api.register()["user_id"]))
    after = build_app(
        tmp_path / "after",
        {**SETTINGS, **WEBHOOKS},
        database_url=container(before).settings.database_url,
        webhooks=FakeWebhooks(),
    )
    yield before, after
    for app in (before, after):
        container(app).engine.dispose()


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    form = {"token": TOKEN, "csrf_token": csrf(client, "/ops/sign-in"), "next": "/ops"}
    assert client.post("/ops/sign-in", data=form).status_code == 302
    return client


def csrf(client: FlaskClient, page: str) -> str:
    match = CSRF_FIELD.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def handler_row(html: str, name: str) -> str:
    match = re.search(rf'<tr data-handler="{name}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {name}"
    return match.group(1)


def test_the_form_starts_a_backfill_shown_in_the_handlers_table(apps: tuple[Flask, Flask]) -> None:
    _, app = apps
    client = signed_in(app)
    overview = client.get("/ops").get_data(as_text=True)
    assert 'id="handlers"' in overview and PAGE in handler_row(overview, HANDLER)
    assert "none" in handler_row(overview, HANDLER)
    form = client.get(PAGE).get_data(as_text=True)
    assert f"Yes, backfill {HANDLER}" in form and 'name="from_position"' in form

    answer = client.post(PAGE, data={"csrf_token": csrf(client, PAGE), "from_position": ""})

    assert answer.status_code == 302 and answer.headers["Location"] == "/ops#handlers"
    page = client.get("/ops").get_data(as_text=True)
    assert f"Backfill #1 of {HANDLER} is done" in page
    row = handler_row(page, HANDLER)
    assert "data-backfill-state>done</span> #1" in row and "ops:session:" in row
    with container(app).engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    assert f'<td class="num" data-backfill-added>{stored}</td>' in row
    run = client.get(f"/api/handlers/{HANDLER}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert run.get_json()["last_backfill"]["requested_by"].startswith("ops:session:")


def test_the_form_refuses_what_the_api_refuses(apps: tuple[Flask, Flask]) -> None:
    before, after = apps
    client = signed_in(after)
    assert client.post(PAGE, data={"from_position": "1"}).status_code == 400, "no CSRF token"
    bad = client.post(PAGE, data={"csrf_token": csrf(client, PAGE), "from_position": "0"})
    assert bad.status_code == 400
    assert "invalid backfill options" in bad.get_data(as_text=True)
    assert client.get("/ops/handlers/nope/backfill").status_code == 404
    assert after.test_client().get(PAGE).status_code == 401, "no session: the sign-in form"

    disabled = signed_in(before)
    page = disabled.get(PAGE).get_data(as_text=True)
    assert "WEBHOOK_URLS is not set" in page and "Yes, backfill" not in page
    refused = disabled.post(
        PAGE, data={"csrf_token": csrf(disabled, "/ops")}, follow_redirects=True
    )
    assert "Not started: " in refused.get_data(as_text=True)
    assert PAGE not in handler_row(disabled.get("/ops").get_data(as_text=True), HANDLER)
