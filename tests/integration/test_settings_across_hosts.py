"""Which settings several hosts must share: an ops sign-in made on one web opens another only
when both have the same SECRET_KEY and ADMIN_TOKEN (the session row itself is in the shared
database). Two apps on one database stand for two hosts' webs."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.container import container_of
from tests.support.inprocess import build_app

TOKEN = "across-hosts-admin-token-0123456789abcd"
SECRET_KEY = "across-hosts-secret-key"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def host_a(tmp_path: Path) -> Iterator[Flask]:
    app = build_app(tmp_path / "a", {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": SECRET_KEY})
    yield app
    container_of(app).engine.dispose()


def other_host(host_a: Flask, tmp_path: Path, **env: str) -> Flask:
    """A second web on host A's database, in an instance directory of its own."""
    url = container_of(host_a).settings.database_url
    return build_app(tmp_path / "b", env, database_url=url)


def signed_in_cookie(app: Flask) -> str:
    client = app.test_client()
    found = CSRF_FIELD.search(client.get("/ops/sign-in").get_data(as_text=True))
    assert found, "no CSRF field on the sign-in form"
    form = {"token": TOKEN, "csrf_token": found.group(1), "next": "/ops"}
    assert client.post("/ops/sign-in", data=form).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def ops_status(app: Flask, cookie: str) -> int:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/ops").status_code


@pytest.mark.parametrize(
    ("env", "opens"),
    [
        pytest.param({"ADMIN_TOKEN": TOKEN, "SECRET_KEY": SECRET_KEY}, True, id="both-shared"),
        pytest.param({"ADMIN_TOKEN": TOKEN}, False, id="no-secret-key"),
        pytest.param({"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "another"}, False, id="other-secret"),
        pytest.param(
            {"ADMIN_TOKEN": TOKEN[::-1], "SECRET_KEY": SECRET_KEY}, False, id="other-token"
        ),
    ],
)
def test_a_sign_in_crosses_hosts_only_with_the_same_secret_key_and_admin_token(
    host_a: Flask, tmp_path: Path, env: dict[str, str], opens: bool
) -> None:
    cookie = signed_in_cookie(host_a)
    host_b = other_host(host_a, tmp_path, **env)
    try:
        assert ops_status(host_a, cookie) == 200
        assert ops_status(host_b, cookie) == (200 if opens else 401)
    finally:
        container_of(host_b).engine.dispose()
