"""``/ops`` through Flask's test client: sign-in, session cookie, CSRF, filters, re-drive, trace.

The dead letters are made the real way (``dead_letters_made``: a webhook receiver
answering 400, Slack answering 503); the browser test (tests/browser) drives the same
page in Chromium against a real worker.
"""

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.application.operations import MAX_TRACED_EVENTS
from app.infrastructure.persistence.tables import events
from tests.support.db_state import store_raw_event
from tests.support.dead_letters import (
    ORDER_WEBHOOK,
    SALES,
    WEBHOOK,
    Graveyard,
    dead_letters_made,
)
from tests.support.inprocess import AppFactory, container

TOKEN = "ops-page-admin-token-0123456789abcdef"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def graveyard(make_app: AppFactory) -> Iterator[Graveyard]:
    with dead_letters_made(make_app, ADMIN_TOKEN=TOKEN, SECRET_KEY="ops-test-key") as made:
        yield made


def csrf_token(client: FlaskClient, page: str) -> str:
    html = client.get(page).get_data(as_text=True)
    match = CSRF_FIELD.search(html)
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def signed_in(graveyard: Graveyard) -> FlaskClient:
    client = graveyard.app.test_client()
    form = {"token": TOKEN, "csrf_token": csrf_token(client, "/ops/sign-in"), "next": "/ops"}
    response = client.post("/ops/sign-in", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/ops"
    return client


@pytest.mark.parametrize(
    "page", ["/ops", "/ops/dead-letters?handler=x", "/ops/dead-letters/1", "/ops/trace"]
)
def test_pages_answer_401_with_the_sign_in_form_without_a_session(
    graveyard: Graveyard, page: str
) -> None:
    response = graveyard.app.test_client().get(page)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert 'name="token"' in html and 'action="/ops/sign-in"' in html
    assert f'name="next" value="{page.replace("&", "&amp;")}"' in html
    assert "Outbox backlog" not in html and "Traceback" not in html


@pytest.mark.parametrize("path", ["/ops/dead-letters/1/retry", "/ops/dead-letters/retry"])
def test_a_form_post_without_a_session_is_401_and_changes_nothing(
    graveyard: Graveyard, path: str
) -> None:
    before = graveyard.snapshot()
    response = graveyard.app.test_client().post(path, data={"csrf_token": "x"})
    assert response.status_code == 401
    assert "sign in at /ops/sign-in first" in response.get_data(as_text=True)
    assert graveyard.snapshot() == before


def test_a_wrong_token_is_refused_and_sets_no_session(graveyard: Graveyard) -> None:
    client = graveyard.app.test_client()
    form = {"token": "not-the-token", "csrf_token": csrf_token(client, "/ops/sign-in")}
    response = client.post("/ops/sign-in", data=form)
    assert response.status_code == 401
    assert "not the admin token" in response.get_data(as_text=True)
    assert client.get("/ops").status_code == 401


def test_sign_in_without_a_csrf_token_is_refused(graveyard: Graveyard) -> None:
    client = graveyard.app.test_client()
    response = client.post("/ops/sign-in", data={"token": TOKEN})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.get_data(as_text=True)
    assert client.get("/ops").status_code == 401


def test_every_form_post_needs_a_valid_csrf_token(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    posts = [
        rule.rule.replace("<int:dead_letter_id>", str(graveyard.ids[WEBHOOK]))
        for rule in graveyard.app.url_map.iter_rules()
        if rule.endpoint.startswith("ops.") and "POST" in (rule.methods or set())
    ]
    assert len(posts) >= 4, posts
    before = graveyard.snapshot()
    for path in posts:
        for form in ({"token": TOKEN}, {"token": TOKEN, "csrf_token": "forged"}):
            response = client.post(path, data=form)
            assert response.status_code == 400, path
            assert "CSRF token" in response.get_data(as_text=True), path
    assert graveyard.snapshot() == before
    assert client.get("/ops").status_code == 200, "the refused sign-out signed nobody out"


def test_sign_in_sets_an_http_only_same_site_lax_session_cookie(graveyard: Graveyard) -> None:
    client = graveyard.app.test_client()
    form = {"token": TOKEN, "csrf_token": csrf_token(client, "/ops/sign-in")}
    response = client.post("/ops/sign-in", data=form)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax"} <= attributes
    assert TOKEN not in cookie
    assert client.get("/ops").status_code == 200


def test_the_session_cookie_is_secure_when_the_settings_say_so(make_app: AppFactory) -> None:
    """Production makes it Secure by default (the settings' own test); here the flag is
    seen to reach the cookie the sign-in sets."""
    for setting, secure in (("true", True), ("false", False)):
        app = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", SESSION_COOKIE_SECURE=setting)
        client = app.test_client()
        form = {"token": TOKEN, "csrf_token": csrf_token(client, "/ops/sign-in")}
        [cookie] = [
            c
            for c in client.post("/ops/sign-in", data=form).headers.getlist("Set-Cookie")
            if c.startswith("session=")
        ]
        assert ("secure" in {part.strip().lower() for part in cookie.split(";")}) is secure


def test_sign_in_never_redirects_off_the_ops_page(graveyard: Graveyard) -> None:
    client = graveyard.app.test_client()
    form = {
        "token": TOKEN,
        "csrf_token": csrf_token(client, "/ops/sign-in"),
        "next": "//evil.example/ops",
    }
    assert client.post("/ops/sign-in", data=form).headers["Location"] == "/ops"


def test_sign_out_ends_the_session(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    client.post("/ops/sign-out", data={"csrf_token": csrf_token(client, "/ops")})
    assert client.get("/ops").status_code == 401


def test_overview_shows_backlog_and_dead_letters_per_handler(graveyard: Graveyard) -> None:
    html = signed_in(graveyard).get("/ops").get_data(as_text=True)
    assert "Outbox backlog" in html
    row = html[html.index("<code>forward_to_webhooks</code>") :].split("</tr>", 1)[0]
    assert ">2</a>" in row  # two dead letters, linked to the filtered list


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {WEBHOOK, ORDER_WEBHOOK, SALES}),
        ("?handler=forward_to_webhooks", {WEBHOOK, ORDER_WEBHOOK}),
        ("?event_type=order.created", {ORDER_WEBHOOK, SALES}),
        ("?error=answered+503", {SALES}),
        ("?handler=forward_to_webhooks&event_type=user.registered", {WEBHOOK}),
    ],
)
def test_dead_letter_filters(
    graveyard: Graveyard, query: str, expected: set[tuple[str, str]]
) -> None:
    html = signed_in(graveyard).get(f"/ops/dead-letters{query}").get_data(as_text=True)
    listed = {int(i) for i in re.findall(r'href="/ops/dead-letters/(\d+)"', html)}
    assert listed == {graveyard.ids[key] for key in expected}


def test_an_overlong_filter_is_a_400(graveyard: Graveyard) -> None:
    response = signed_in(graveyard).get("/ops/dead-letters?error=" + "x" * 201)
    assert response.status_code == 400
    assert "invalid filter" in response.get_data(as_text=True)


@pytest.mark.parametrize("dead_letter_id", [999_999, 2**63])
def test_an_unknown_dead_letter_is_a_404_page(graveyard: Graveyard, dead_letter_id: int) -> None:
    client = signed_in(graveyard)
    for path in (
        f"/ops/dead-letters/{dead_letter_id}",
        f"/ops/dead-letters/{dead_letter_id}/retry",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert f"dead letter {dead_letter_id} does not exist" in response.get_data(as_text=True)


def test_a_dead_letter_page_shows_its_traceback(graveyard: Graveyard) -> None:
    dead_letter_id = graveyard.ids[WEBHOOK]
    html = signed_in(graveyard).get(f"/ops/dead-letters/{dead_letter_id}").get_data(as_text=True)
    assert "Traceback (most recent call last)" in html
    assert "PermanentFailure" in html and "answered 400" in html
    assert 'data-delivery-status="dead"' in html


def test_re_driving_one_asks_first_and_needs_the_csrf_token(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    dead_letter_id = graveyard.ids[WEBHOOK]
    confirm = client.get(f"/ops/dead-letters/{dead_letter_id}/retry").get_data(as_text=True)
    assert f"Re-drive dead letter #{dead_letter_id}?" in confirm
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"  # asking changed nothing

    refused = client.post(f"/ops/dead-letters/{dead_letter_id}/retry", data={})
    assert refused.status_code == 400
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"

    token = CSRF_FIELD.search(confirm)
    assert token
    done = client.post(
        f"/ops/dead-letters/{dead_letter_id}/retry", data={"csrf_token": token.group(1)}
    )
    assert done.status_code == 302
    assert graveyard.dead_letter(WEBHOOK)["status"] == "redriven"
    assert graveyard.delivery(WEBHOOK)["status"] in {"pending", "dispatched", "done", "dead"}
    assert graveyard.dead_letter(ORDER_WEBHOOK)["status"] == "dead"
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "re-driven: its delivery is pending again" in page


def test_re_driving_all_matching_confirms_the_matches_then_re_drives_only_them(
    graveyard: Graveyard,
) -> None:
    client = signed_in(graveyard)
    confirm = client.get("/ops/dead-letters/retry?handler=forward_to_webhooks")
    html = confirm.get_data(as_text=True)
    assert "Re-drive 2 dead letter(s)?" in html
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"
    token = CSRF_FIELD.search(html)
    assert token
    response = client.post(
        "/ops/dead-letters/retry",
        data={"csrf_token": token.group(1), "handler": "forward_to_webhooks"},
    )
    assert response.status_code == 302
    assert graveyard.dead_letter(WEBHOOK)["status"] == "redriven"
    assert graveyard.dead_letter(ORDER_WEBHOOK)["status"] == "redriven"
    assert graveyard.dead_letter(SALES)["status"] == "dead"


def test_trace_lists_the_events_and_deliveries_of_a_correlation_id(graveyard: Graveyard) -> None:
    with container(graveyard.app).engine.connect() as conn:
        correlation_id = conn.execute(
            sa.select(events.c.correlation_id).where(events.c.event_type == "order.created")
        ).scalar_one()
    html = (
        signed_in(graveyard)
        .get(f"/ops/trace?correlation_id={correlation_id}")
        .get_data(as_text=True)
    )
    assert "<code>order.created</code>" in html
    assert (
        "<code>notify_sales_channel</code>" in html and "<code>project_order_summary</code>" in html
    )
    assert "user.registered" not in html  # another request's chain
    missing = signed_in(graveyard).get("/ops/trace?correlation_id=nothing-here")
    assert "No events with correlation id" in missing.get_data(as_text=True)


def test_a_long_trace_links_to_its_later_events(graveyard: Graveyard) -> None:
    with container(graveyard.app).engine.begin() as conn:
        for n in range(MAX_TRACED_EVENTS + 1):
            store_raw_event(
                conn, payload={"n": n}, event_type="load.tick", correlation_id="long-chain"
            )
    client = signed_in(graveyard)

    first = client.get("/ops/trace?correlation_id=long-chain").get_data(as_text=True)
    link = re.search(r'<a id="later-events" href="([^"]+)"', first)
    assert link, first[-2000:]
    later = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)

    assert first.count("<code>load.tick</code>") == MAX_TRACED_EVENTS
    assert later.count("<code>load.tick</code>") == 1
    assert 'id="later-events"' not in later and "From the start" in later
    refused = client.get("/ops/trace?correlation_id=long-chain&after=-1")
    assert refused.status_code == 400 and "after" in refused.get_data(as_text=True)


def test_trace_lists_a_delivery_purged_with_its_dead_letter(graveyard: Graveyard) -> None:
    with container(graveyard.app).engine.connect() as conn:
        correlation_id = conn.execute(
            sa.select(events.c.correlation_id).where(
                events.c.event_id == graveyard.dead_letter(SALES)["event_id"]
            )
        ).scalar_one()
    purged = graveyard.cli("purge", "--yes", "--handler", "notify_sales_channel")
    assert purged.exit_code == 0, purged.output

    html = (
        signed_in(graveyard)
        .get(f"/ops/trace?correlation_id={correlation_id}")
        .get_data(as_text=True)
    )
    row = re.search(
        r"<tr>\s*<td>(.*?)</td>\s*<td><code>notify_sales_channel</code>(.*?)</tr>", html, re.S
    )
    assert row, html
    assert "gone" in row.group(1)
    assert "status-purged" in row.group(2)
    assert "dead, then purged with its dead letter at" in row.group(2)


def test_without_admin_token_the_page_is_open_and_says_so(make_app: AppFactory) -> None:
    html = make_app().test_client().get("/ops").get_data(as_text=True)
    assert "ADMIN_TOKEN is not set" in html


def test_status_all_lists_re_driven_dead_letters_too(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    token = csrf_token(client, f"/ops/dead-letters/{graveyard.ids[WEBHOOK]}/retry")
    client.post(f"/ops/dead-letters/{graveyard.ids[WEBHOOK]}/retry", data={"csrf_token": token})

    def listed(query: str) -> set[int]:
        html = client.get(f"/ops/dead-letters{query}").get_data(as_text=True)
        return {int(i) for i in re.findall(r'href="/ops/dead-letters/(\d+)"', html)}

    assert listed("") == {graveyard.ids[ORDER_WEBHOOK], graveyard.ids[SALES]}
    assert listed("?status=all") == set(graveyard.ids.values())
    assert listed("?status=all&handler=notify_sales_channel") == {graveyard.ids[SALES]}
    page = client.get("/ops/dead-letters?status=all").get_data(as_text=True)
    assert 'class="status status-redriven">redriven<' in page
    assert '<option value="all" selected>' in page
    refused = client.get("/ops/dead-letters?status=gone")
    assert refused.status_code == 400 and "invalid status" in refused.get_data(as_text=True)


def test_a_dead_letter_links_to_its_event_and_its_trace(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    item = graveyard.dead_letter(SALES)
    with container(graveyard.app).engine.connect() as conn:
        correlation_id = conn.execute(
            sa.select(events.c.correlation_id).where(events.c.event_id == item["event_id"])
        ).scalar_one()
    html = client.get(f"/ops/dead-letters/{item['id']}").get_data(as_text=True)

    event_link = re.search(r'<a id="event-link" href="([^"]+)"', html)
    trace_link = re.search(r'<a id="trace-link" href="([^"]+)"', html)
    assert event_link and trace_link, html
    assert event_link.group(1) == f"/ops/events/{item['event_id']}"
    assert trace_link.group(1) == (
        f"/ops/trace?correlation_id={correlation_id}#event-{item['event_id']}"
    )
    event_page = client.get(event_link.group(1)).get_data(as_text=True)
    assert "<code>order.created</code>" in event_page and correlation_id in event_page
    assert "<code>notify_sales_channel</code>" in event_page and "status-dead" in event_page
    trace_page = client.get(trace_link.group(1).split("#")[0]).get_data(as_text=True)
    assert f'id="event-{item["event_id"]}"' in trace_page
    missing = client.get("/ops/events/no-such-event")
    assert missing.status_code == 404
    assert "event no-such-event does not exist" in missing.get_data(as_text=True)
    assert client.get("/ops/events/" + "x" * 400).status_code == 404


def test_an_unfinished_delivery_says_to_reload(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    dead_letter_id = graveyard.ids[ORDER_WEBHOOK]
    before = client.get(f"/ops/dead-letters/{dead_letter_id}").get_data(as_text=True)
    assert 'id="reload-hint"' not in before  # dead is final until someone re-drives it

    token = csrf_token(client, f"/ops/dead-letters/{dead_letter_id}/retry")
    done = client.post(f"/ops/dead-letters/{dead_letter_id}/retry", data={"csrf_token": token})
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    status = graveyard.delivery(ORDER_WEBHOOK)["status"]
    assert status == "pending"  # nothing publishes it in this app: no relay runs
    assert 'data-delivery-status="pending"' in after
    assert 'id="reload-hint"' in after and "Reload" in after


def test_without_admin_token_the_sign_in_form_says_none_is_needed(
    make_app: AppFactory,
) -> None:
    client = make_app().test_client()
    html = client.get("/ops/sign-in?next=/ops/trace").get_data(as_text=True)
    assert "needs no sign-in" in html and 'href="/ops/trace"' in html
    assert 'name="token"' not in html
    token = csrf_token(client, "/ops/dead-letters/retry")  # a form a stale sign-in tab posts
    response = client.post(
        "/ops/sign-in", data={"token": "anything", "csrf_token": token, "next": "/ops/trace"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/ops/trace"
