"""Every response says how a browser may use it: no framing (clickjacking a re-drive), no
MIME sniffing, no Referer to other sites, and no copy in any cache of a page that shows
names, emails or tracebacks. The pages still work under that policy: every script and
style ``/ops`` and ``/api/docs`` (Swagger UI) load is one the policy allows, and is served.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.support.dead_letters import WEBHOOK, Graveyard, dead_letters_made
from tests.support.inprocess import AppFactory, app_factory

TOKEN = "hostile-headers-admin-token-0123456789"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PERSONAL = "ada.lovelace@example.com"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    with app_factory(tmp_path) as make:
        yield make


@pytest.fixture
def graveyard(make_app: AppFactory) -> Iterator[Graveyard]:
    with dead_letters_made(make_app, ADMIN_TOKEN=TOKEN, SECRET_KEY="headers-test-key") as made:
        yield made


@pytest.fixture
def client(graveyard: Graveyard) -> FlaskClient:
    """Signed in to ``/ops``."""
    client = graveyard.app.test_client()
    page = client.get("/ops/sign-in").get_data(as_text=True)
    match = CSRF_FIELD.search(page)
    assert match
    form = {"token": TOKEN, "csrf_token": match.group(1), "next": "/ops"}
    assert client.post("/ops/sign-in", data=form).status_code == 302
    return client


def policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as directive -> sources (there must be one)."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request.path}"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def sources(directives: dict[str, list[str]], directive: str) -> list[str]:
    """What ``directive`` allows, falling back to ``default-src`` as browsers do."""
    found = directives.get(directive, directives.get("default-src"))
    assert found is not None, f"neither {directive} nor default-src: {directives}"
    return found


def assert_framing_sniffing_and_referrer_refused(response: Any) -> None:
    path = response.request.path
    assert policy(response).get("frame-ancestors") == ["'none'"], path
    assert response.headers.get("X-Frame-Options") == "DENY", path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), path


def assert_not_stored(response: Any) -> None:
    directives = {d.strip().lower() for d in response.headers.get("Cache-Control", "").split(",")}
    assert "no-store" in directives, (response.request.path, response.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/ops",
        "/ops/dead-letters",
        "/ops/trace",
        "/ops/sign-in",
        "/api/docs",
        "/api/asyncapi",
        "/healthz",
    ],
)
def test_every_page_refuses_framing_sniffing_and_referrers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_framing_sniffing_and_referrer_refused(response)


def test_a_page_refused_without_a_session_carries_the_headers_too(graveyard: Graveyard) -> None:
    response = graveyard.app.test_client().get("/ops")
    assert response.status_code == 401
    assert_framing_sniffing_and_referrer_refused(response)
    assert_not_stored(response)


def test_pages_with_names_emails_and_tracebacks_are_never_stored(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    dead_letter = client.get(f"/ops/dead-letters/{graveyard.ids[WEBHOOK]}")
    assert "Traceback" in dead_letter.get_data(as_text=True)
    assert_not_stored(dead_letter)
    for path in ("/ops", "/ops/dead-letters", "/ops/trace?correlation_id=x"):
        assert_not_stored(client.get(path))


def test_api_answers_with_personal_data_are_never_stored(make_app: AppFactory) -> None:
    """API answers carry emails (users, events, dead letters' envelopes) and tracebacks; a
    browser or proxy keeping a copy would hand them to the next person at that machine."""
    client = make_app().test_client()
    registered = client.post("/api/users", json={"email": PERSONAL, "name": "Ada"})
    assert registered.status_code == 201
    user = client.get(f"/api/users/{registered.get_json()['user_id']}")
    assert PERSONAL in user.get_data(as_text=True)
    for response in (registered, user, client.get("/api/events"), client.get("/api/dead-letters")):
        assert_framing_sniffing_and_referrer_refused(response)
        assert_not_stored(response)


class _Resources(HTMLParser):
    """The scripts and styles a page loads, and the ones written inline in it."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.inline: list[tuple[str, dict[str, str | None]]] = []
        self.style_attributes = 0
        self._open: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.style_attributes += 1
        if tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"] or "")
        elif tag in ("script", "style"):
            self._open = (tag, attributes)
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(self._open)

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def assert_loads_under_its_policy(client: FlaskClient, path: str) -> _Resources:
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    page = _Resources()
    page.feed(response.get_data(as_text=True))
    for tag, attributes in page.inline:
        allowed = sources(directives, f"{tag}-src")
        nonce = attributes.get("nonce")
        assert "'unsafe-inline'" in allowed or (nonce and f"'nonce-{nonce}'" in allowed), (
            f"{path}: an inline <{tag}> the policy blocks ({allowed})"
        )
    if page.style_attributes:
        assert "'unsafe-inline'" in sources(directives, "style-src"), path
    for kind, urls, mimetype in (
        ("script", page.scripts, "javascript"),
        ("style", page.stylesheets, "text/css"),
    ):
        for url in urls:
            parts = urlsplit(url)
            assert not parts.netloc and parts.path.startswith("/"), f"{path} loads {url}"
            assert "'self'" in sources(directives, f"{kind}-src"), (path, url)
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert mimetype in asset.headers["Content-Type"], (url, asset.headers)
    return page


def test_swagger_ui_loads_under_the_policy(client: FlaskClient) -> None:
    page = assert_loads_under_its_policy(client, "/api/docs")
    assert any(url.endswith("swagger-ui-bundle.js") for url in page.scripts), page.scripts
    assert page.stylesheets, "Swagger UI's stylesheet is gone"
    docs = client.get("/api/docs")
    assert "'self'" in sources(policy(docs), "connect-src"), "Swagger UI fetches the document"
    assert "data:" in sources(policy(docs), "img-src"), "Swagger UI's icons are data: URLs"
    assert client.get("/api/openapi.json").status_code == 200


def test_the_event_catalog_loads_under_the_policy(client: FlaskClient) -> None:
    page = assert_loads_under_its_policy(client, "/api/asyncapi")
    assert page.inline and not page.scripts, "the catalog is one page with its own styles"


@pytest.mark.parametrize("path", ["/ops", "/ops/sign-in"])
def test_the_ops_page_loads_under_the_policy(client: FlaskClient, path: str) -> None:
    page = assert_loads_under_its_policy(client, path)
    assert page.stylesheets or page.inline, f"{path} lost its styles"


def test_no_page_may_run_inline_script_or_plugins(client: FlaskClient) -> None:
    for path in ("/ops", "/api/docs", "/api/asyncapi"):
        directives = policy(client.get(path))
        assert "'unsafe-inline'" not in sources(directives, "script-src"), path
        assert "'unsafe-eval'" not in sources(directives, "script-src"), path
        assert sources(directives, "object-src") == ["'none'"], path
        assert directives.get("base-uri") == ["'none'"], path


def test_referrers_stay_on_this_site_so_csrf_over_https_still_works(graveyard: Graveyard) -> None:
    """Flask-WTF refuses an HTTPS form POST whose Referer is missing or another host, so the
    policy must keep sending it to this site: same-origin, not no-referrer."""
    client = graveyard.app.test_client()
    sign_in = client.get("/ops/sign-in", base_url="https://ops.example")
    assert sign_in.headers["Referrer-Policy"] == "same-origin"
    match = CSRF_FIELD.search(sign_in.get_data(as_text=True))
    assert match
    response = client.post(
        "/ops/sign-in",
        base_url="https://ops.example",
        data={"token": TOKEN, "csrf_token": match.group(1), "next": "/ops"},
        headers={"Referer": "https://ops.example/ops/sign-in"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_static_assets_stay_cacheable(client: FlaskClient) -> None:
    """Only what is dynamic is marked no-store: Swagger UI's bundle is the same for everyone."""
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("Cache-Control", "")
    assert asset.headers.get("X-Content-Type-Options") == "nosniff"
