"""A webhook URL's path, query and userinfo are its credentials: no error may repeat them.

Slack's incoming webhooks put the secret in the path; other receivers use a query token or
a password in the URL. Real receivers on 127.0.0.1 (answering 404/503 and echoing the
path back, or not listening at all) fail the deliveries through the eager app; then every
place an operator or a log reader sees the failure is searched for the secrets: the
database (dead letters' message and traceback, deliveries' last error), ``/api/...``, the
ops pages and the captured log.
"""

import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.errors import PermanentFailure, TransientFailure
from app.infrastructure.notifications.email import SmtpEmailSender
from app.infrastructure.notifications.webhooks import SlackWebhookNotifier, post
from app.infrastructure.persistence.tables import dead_letters
from tests.support.db_state import table_rows
from tests.support.http_receiver import Answer, HttpReceiver, Request, http_receiver
from tests.support.inprocess import Api, AppFactory, app_factory, container

SLACK_PATH_SECRET = "T0SLACK/B0HOOK/slackpathsecret7f3a9c"
HOOK_PATH_SECRET = "hookpathsecret51be02"
QUERY_SECRET = "querytokensecretc0ffee"
USERINFO_SECRET = "userinfopasswordd00d"
SECRETS = (SLACK_PATH_SECRET, HOOK_PATH_SECRET, QUERY_SECRET, USERINFO_SECRET)
SECRET_WORDS = ("slackpathsecret7f3a9c", *SECRETS[1:])
"""Searched for on their own too, as a page or a log may split or re-encode a path."""


def echo_the_path(request: Request) -> Answer:
    """A receiver that repeats the request's path (and so the secret) in its error body."""
    status = 503 if request.path.startswith("/services") else 404
    return Answer(status, body=f'{{"error": "nothing at {request.path}"}}'.encode())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def secret_urls(base: str) -> dict[str, str]:
    host = base.removeprefix("http://")
    return {
        "SLACK_WEBHOOK_URL": (
            f"http://ops:{USERINFO_SECRET}@{host}/services/{SLACK_PATH_SECRET}?token={QUERY_SECRET}"
        ),
        "WEBHOOK_URLS": f"{base}/hooks/{HOOK_PATH_SECRET}",
        "WEBHOOK_SECRET": "signing-secret",
        "OUTBOX_MAX_ATTEMPTS": "1",
    }


def leaks(text: str) -> list[str]:
    return [word for word in SECRET_WORDS if word in text]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    with app_factory(tmp_path) as make:
        yield make


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(echo_the_path) as r:
        yield r


@pytest.fixture(params=["answering", "unreachable"])
def failed_app(
    request: pytest.FixtureRequest,
    make_app: AppFactory,
    receiver: HttpReceiver,
    caplog: pytest.LogCaptureFixture,
) -> Flask:
    """Three deliveries dead-lettered: two webhooks (404, or refused) and Slack (503, or
    refused), every one of them at a URL holding secrets."""
    base = (
        receiver.base_url if request.param == "answering" else f"http://127.0.0.1:{closed_port()}"
    )
    caplog.set_level(logging.INFO)
    app = make_app(**secret_urls(base))
    api = Api(app.test_client())
    api.create_order(api.register()["user_id"])
    if request.param == "answering":
        assert len(receiver.requests) == 3
    return app


def test_dead_letters_and_deliveries_hold_no_secret(failed_app: Flask) -> None:
    engine = container(failed_app).engine
    stored = table_rows(engine, dead_letters)
    assert {(row["handler"], row["event_type"]) for row in stored} == {
        ("forward_to_webhooks", "user.registered"),
        ("forward_to_webhooks", "order.created"),
        ("notify_sales_channel", "order.created"),
    }
    for row in stored:
        assert "POST http://127.0.0.1:" in row["message"], row["message"]
        assert leaks(row["message"]) == [], row["message"]
        assert leaks(row["traceback"]) == [], row["traceback"]
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    for name in names:
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        assert leaks(repr(table_rows(engine, table))) == [], name


def test_the_api_shows_no_secret(failed_app: Flask) -> None:
    client = failed_app.test_client()
    listing = client.get("/api/dead-letters?status=all")
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert len(items) == 3
    pages = [listing.get_data(as_text=True)]
    for item in items:
        pages.append(client.get(f"/api/dead-letters/{item['id']}").get_data(as_text=True))
        pages.append(client.get(f"/api/events/{item['event_id']}").get_data(as_text=True))
    for event in client.get("/api/events").get_json()["items"]:
        pages.append(client.get(f"/api/traces/{event['correlation_id']}").get_data(as_text=True))
    pages.append(client.get("/api/outbox/stats").get_data(as_text=True))
    assert [leaks(page) for page in pages] == [[]] * len(pages)


def test_the_ops_pages_show_no_secret(failed_app: Flask) -> None:
    client = failed_app.test_client()
    paths = ["/ops", "/ops/dead-letters"]
    with container(failed_app).engine.connect() as conn:
        rows = conn.execute(sa.select(dead_letters.c.id, dead_letters.c.event_id)).all()
    paths += [f"/ops/dead-letters/{row.id}" for row in rows]
    for event in client.get("/api/events").get_json()["items"]:
        paths.append(f"/ops/trace?correlation_id={event['correlation_id']}")
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert leaks(html) == [], (path, leaks(html))
    detail = client.get(f"/ops/dead-letters/{rows[0].id}").get_data(as_text=True)
    assert "http://127.0.0.1:" in detail


def test_the_log_holds_no_secret(failed_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """The failures were logged while the fixture made them: its records, with tracebacks."""
    records = caplog.get_records("setup")
    assert any(r.name == "outboxflow.deliveries" and r.levelname == "ERROR" for r in records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in records]
    assert [leaks(line) for line in lines] == [[]] * len(lines)


def failure_of(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except (PermanentFailure, TransientFailure) as exc:
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize(
    ("path", "failure"),
    [
        ("/hooks/status-404", PermanentFailure),
        ("/services/status-503", TransientFailure),
    ],
)
def test_a_receivers_answer_keeps_its_class_and_loses_the_secret(
    receiver: HttpReceiver, path: str, failure: type[Exception]
) -> None:
    url = receiver.url(f"{path}/{HOOK_PATH_SECRET}?token={QUERY_SECRET}")
    exc = failure_of(lambda: post(url, data=b"{}", headers={}))
    assert type(exc) is failure
    assert str(exc).startswith(f"POST {receiver.base_url} answered ")
    assert "[redacted]" in str(exc)
    assert exc.__cause__ is None and exc.__context__ is None
    assert leaks("".join(traceback.format_exception(exc))) == []


def test_a_refused_connection_is_transient_and_names_only_the_host() -> None:
    port = closed_port()
    slack = SlackWebhookNotifier(
        f"http://ops:{USERINFO_SECRET}@127.0.0.1:{port}/services/{SLACK_PATH_SECRET}"
    )
    exc = failure_of(lambda: slack.post(text="x", idempotency_key="k"))
    assert isinstance(exc, TransientFailure)
    assert str(exc) == f"POST http://127.0.0.1:{port} failed: ConnectionError (Connection refused)"
    assert exc.__cause__ is None and exc.__context__ is None
    assert leaks("".join(traceback.format_exception(exc))) == []


def test_a_timeout_is_transient_and_names_only_the_host() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hooks/{HOOK_PATH_SECRET}"
        exc = failure_of(lambda: post(url, data=b"{}", headers={}, timeout=0.2))
    assert isinstance(exc, TransientFailure)
    assert "ReadTimeout after 0.2 s" in str(exc)
    assert leaks("".join(traceback.format_exception(exc))) == []


def test_an_smtp_failure_holds_no_password() -> None:
    """Email already kept its password out; this keeps it so."""
    sender = SmtpEmailSender(f"smtp://ops:{USERINFO_SECRET}@127.0.0.1:{closed_port()}")
    exc = failure_of(
        lambda: sender.send(to="a@example.com", subject="s", body="b", idempotency_key="k")
    )
    assert isinstance(exc, TransientFailure)
    assert leaks("".join(traceback.format_exception(exc))) == []
