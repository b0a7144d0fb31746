"""An ops session ends when its operator signs out, everywhere, and after OPS_SESSION_HOURS.

The attacker here holds a copy of the session cookie (and the CSRF token of a page it was
shown with) taken before the operator signed out: from a shared machine, a proxy log, a
browser profile. Replaying it must open nothing and re-drive nothing, on any web process.
"""

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import Settings
from tests.support.dead_letters import WEBHOOK, Graveyard, dead_letters_made
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import AppFactory, app_factory, build_app, container

TOKEN = "hostile-session-admin-token-0123456789"
SECRET_KEY = "hostile-session-key"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    with app_factory(tmp_path, ADMIN_TOKEN=TOKEN, SECRET_KEY=SECRET_KEY) as make:
        yield make


def csrf_token(client: FlaskClient, page: str) -> str:
    match = CSRF_FIELD.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def sign_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    form = {"token": TOKEN, "csrf_token": csrf_token(client, "/ops/sign-in"), "next": "/ops"}
    assert client.post("/ops/sign-in", data=form).status_code == 302
    assert client.get("/ops").status_code == 200
    return client


def sign_out(client: FlaskClient) -> None:
    response = client.post("/ops/sign-out", data={"csrf_token": csrf_token(client, "/ops")})
    assert response.status_code == 302


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replaying(app: Flask, cookie: str) -> FlaskClient:
    """A fresh client that sends a saved session cookie, as an attacker would."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def test_a_cookie_saved_before_sign_out_opens_nothing_and_re_drives_nothing(
    make_app: AppFactory,
) -> None:
    with dead_letters_made(make_app, ADMIN_TOKEN=TOKEN, SECRET_KEY=SECRET_KEY) as graveyard:
        operator = sign_in(graveyard.app)
        retry_page = f"/ops/dead-letters/{graveyard.ids[WEBHOOK]}/retry"
        saved_csrf = csrf_token(operator, retry_page)
        saved = session_cookie(operator)
        sign_out(operator)
        assert operator.get("/ops").status_code == 401

        attacker = replaying(graveyard.app, saved)
        for page in ("/ops", "/ops/dead-letters", retry_page):
            assert attacker.get(page).status_code == 401, page
        before = graveyard.snapshot()
        response = attacker.post(retry_page, data={"csrf_token": saved_csrf})
        assert response.status_code == 401
        assert graveyard.snapshot() == before
        assert_dead_letter_untouched(graveyard)


def assert_dead_letter_untouched(graveyard: Graveyard) -> None:
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_sign_out_on_one_web_process_ends_the_session_on_the_others(
    make_database: MakeDatabase, tmp_path: Path, db: str
) -> None:
    """Two apps on one database stand for two gunicorn workers, or two hosts."""
    database = make_database(db)
    env = {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": SECRET_KEY}
    first, second = (
        build_app(tmp_path / name, env, database_url=database.url) for name in ("a", "b")
    )
    try:
        operator = sign_in(first)
        saved = session_cookie(operator)
        on_second = replaying(second, saved)
        assert on_second.get("/ops").status_code == 200, "the session should work everywhere"
        sign_out(on_second)
        assert replaying(first, saved).get("/ops").status_code == 401
        assert replaying(second, saved).get("/ops").status_code == 401
    finally:
        for app in (first, second):
            container(app).engine.dispose()


def test_signing_out_ends_only_that_session(make_app: AppFactory) -> None:
    app = make_app()
    laptop, desktop = sign_in(app), sign_in(app)
    assert session_cookie(laptop) != session_cookie(desktop)
    sign_out(laptop)
    assert laptop.get("/ops").status_code == 401
    assert desktop.get("/ops").status_code == 200


def test_a_session_ends_ops_session_hours_after_sign_in_however_busy(
    make_app: AppFactory,
) -> None:
    lifetime = timedelta(hours=0.001)  # 3.6 s
    app = make_app(OPS_SESSION_HOURS="0.001")
    signed_in_at = time.monotonic()
    operator = sign_in(app)
    saved = session_cookie(operator)
    while time.monotonic() - signed_in_at < lifetime.total_seconds() - 1.5:
        assert operator.get("/ops").status_code == 200, "a live session was refused"
        time.sleep(0.5)
    time.sleep(max(0.0, signed_in_at + lifetime.total_seconds() + 0.3 - time.monotonic()))
    assert operator.get("/ops").status_code == 401, "using a session must not extend it"
    assert replaying(app, saved).get("/ops").status_code == 401


def test_the_cookie_expires_with_the_session(make_app: AppFactory) -> None:
    app = make_app(OPS_SESSION_HOURS="2")
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2)
    client = app.test_client()
    form = {"token": TOKEN, "csrf_token": csrf_token(client, "/ops/sign-in")}
    response = client.post("/ops/sign-in", data=form)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    attributes = dict(part.strip().split("=", 1) for part in cookie.split(";")[1:] if "=" in part)
    expires = parsedate_to_datetime(attributes["Expires"])
    expected = datetime.now(UTC) + timedelta(hours=2)
    assert abs(expires - expected) < timedelta(minutes=1), cookie


def test_the_default_lifetime_is_a_working_day() -> None:
    settings = Settings.from_env(env={})
    assert settings.ops_session_hours == 8


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "100000"])
def test_a_bad_ops_session_hours_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env(env={"OPS_SESSION_HOURS": value})
    message = str(refused.value)
    assert message.startswith("OPS_SESSION_HOURS "), message
    assert "\n" not in message, message
