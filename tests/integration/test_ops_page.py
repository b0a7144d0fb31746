"""``/ops`` through Flask's test client: sign-in, session cookie, CSRF, filters, re-drive,
skip, parked keys, trace.

The dead letters are made the real way (``dead_letters_made``: a webhook receiver
answering 400, Slack answering 503; ``parked_order``: an order whose first webhook was
refused, parking the next two); the browser test (tests/browser) drives the same
page in Chromium against a real worker.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.application.operations import MAX_TRACED_EVENTS
from app.infrastructure.persistence.tables import events, ops_sessions
from tests.support.db_state import store_raw_event
from tests.support.dead_letters import (
    ORDER_WEBHOOK,
    SALES,
    WEBHOOK,
    Graveyard,
    dead_letters_made,
)
from tests.support.inprocess import AppFactory, container
from tests.support.parked import HANDLER, ParkedOrder, parked_order

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
    return signed_in_to(graveyard.app)


def signed_in_to(app: Flask) -> FlaskClient:
    client = app.test_client()
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


@pytest.mark.parametrize(
    "path", ["/ops/dead-letters/1/retry", "/ops/dead-letters/retry", "/ops/dead-letters/1/skip"]
)
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
    assert 'id="nothing-parked"' in html  # eager mode orders nothing, so nothing parks


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
        f"/ops/dead-letters/{dead_letter_id}/skip",
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


def test_each_live_dead_letter_has_a_skip_button_beside_re_drive(graveyard: Graveyard) -> None:
    html = signed_in(graveyard).get("/ops/dead-letters").get_data(as_text=True)
    for dead_letter_id in graveyard.ids.values():
        row = html[html.index(f'href="/ops/dead-letters/{dead_letter_id}"') :].split("</tr>")[0]
        assert f'href="/ops/dead-letters/{dead_letter_id}/retry">Re-drive…</a>' in row
        assert f'href="/ops/dead-letters/{dead_letter_id}/skip">Skip…</a>' in row


def test_skipping_one_asks_first_needs_the_csrf_token_and_records_the_session(
    graveyard: Graveyard,
) -> None:
    client = signed_in(graveyard)
    dead_letter_id = graveyard.ids[WEBHOOK]
    confirm = client.get(f"/ops/dead-letters/{dead_letter_id}/skip").get_data(as_text=True)
    assert f"Skip dead letter #{dead_letter_id}?" in confirm
    assert "<strong>never</strong> delivered" in confirm
    assert f"Yes, skip #{dead_letter_id}" in confirm
    assert 'id="releases"' not in confirm  # in eager mode no delivery has an order key
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"  # asking changed nothing

    refused = client.post(f"/ops/dead-letters/{dead_letter_id}/skip", data={})
    assert refused.status_code == 400
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"

    token = CSRF_FIELD.search(confirm)
    assert token
    done = client.post(
        f"/ops/dead-letters/{dead_letter_id}/skip", data={"csrf_token": token.group(1)}
    )
    assert done.status_code == 302
    skipped = graveyard.dead_letter(WEBHOOK)
    assert skipped["status"] == "skipped"
    assert graveyard.delivery(WEBHOOK)["status"] == "skipped"
    assert graveyard.dead_letter(ORDER_WEBHOOK)["status"] == "dead"
    with container(graveyard.app).engine.connect() as conn:
        digests = list(conn.execute(sa.select(ops_sessions.c.id_digest)).scalars())
    by = re.fullmatch(r"ops:session:([0-9a-f]{12})", skipped["skipped_by"])
    assert by and [d for d in digests if d.startswith(by.group(1))], skipped["skipped_by"]

    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "skipped: its delivery will never run" in page
    assert 'class="status status-skipped">skipped<' in page
    shown = re.search(r'<dd id="skipped">(.*?)</dd>', page, re.S)
    assert shown and skipped["skipped_by"] in shown.group(1)
    assert shown.group(1).startswith(skipped["skipped_at"].isoformat()[:19])
    assert "Re-drive…" not in page and "Skip…" not in page


def test_a_dead_letter_that_cannot_be_skipped_says_why(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    dead_letter_id = graveyard.ids[SALES]
    token = csrf_token(client, f"/ops/dead-letters/{dead_letter_id}/retry")
    client.post(f"/ops/dead-letters/{dead_letter_id}/retry", data={"csrf_token": token})
    before = graveyard.snapshot()

    confirm = client.get(f"/ops/dead-letters/{dead_letter_id}/skip").get_data(as_text=True)
    assert f"dead letter {dead_letter_id} was re-driven at " in confirm
    assert "Yes, skip" not in confirm
    done = client.post(f"/ops/dead-letters/{dead_letter_id}/skip", data={"csrf_token": token})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Not skipped: dead letter {dead_letter_id} was re-driven at " in page
    assert graveyard.snapshot() == before


def test_status_all_lists_skipped_dead_letters_with_who_skipped_them(graveyard: Graveyard) -> None:
    client = signed_in(graveyard)
    dead_letter_id = graveyard.ids[ORDER_WEBHOOK]
    token = csrf_token(client, f"/ops/dead-letters/{dead_letter_id}/skip")
    client.post(f"/ops/dead-letters/{dead_letter_id}/skip", data={"csrf_token": token})
    who = graveyard.dead_letter(ORDER_WEBHOOK)["skipped_by"]

    live = client.get("/ops/dead-letters").get_data(as_text=True)
    assert f'href="/ops/dead-letters/{dead_letter_id}"' not in live
    assert "Show re-driven and skipped ones too" in live
    every = client.get("/ops/dead-letters?status=all").get_data(as_text=True)
    row = every[every.index(f'href="/ops/dead-letters/{dead_letter_id}"') :].split("</tr>")[0]
    assert 'class="status status-skipped">skipped<' in row
    assert f"by <code>{who}</code>" in row
    assert "Skip…" not in row and "Re-drive…" not in row


@pytest.fixture
def parked(tmp_path: Path) -> Iterator[ParkedOrder]:
    with parked_order(tmp_path, ADMIN_TOKEN=TOKEN, SECRET_KEY="ops-test-key") as made:
        yield made


def _parked_row(html: str) -> str:
    table = html[html.index('<table id="parked-table">') :].split("</table>")[0]
    return table[table.index(f'<tr data-handler="{HANDLER}">') :].split("</tr>")[0]


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_the_overview_shows_parked_keys_and_waiting_deliveries(parked: ParkedOrder) -> None:
    client = signed_in_to(parked.app)
    html = client.get("/ops").get_data(as_text=True)
    assert 'id="nothing-parked"' not in html
    handler, keys, deliveries, oldest, dead = _cells(_parked_row(html))
    assert (handler, keys, deliveries, dead) == (HANDLER, "1", "2", "1")
    assert re.fullmatch(r"\d+\.\d s", oldest), oldest
    header = re.findall(r'<th class="num">(\w+)</th>', html.split("</thead>")[0])
    assert header[:6] == ["pending", "dispatched", "running", "retry", "waiting", "parked"]
    backlog = html[html.index(f"<code>{HANDLER}</code>") :].split("</tr>")[0]
    assert _cells(backlog)[:6] == ["0", "0", "0", "0", "0", "2"]

    page = client.get(f"/ops/dead-letters/{parked.dead_letter_id}").get_data(as_text=True)
    assert f"<code>{parked.key}</code>" in page
    assert '<strong id="parked-behind">2 parked</strong>' in page
    confirm = client.get(f"/ops/dead-letters/{parked.dead_letter_id}/skip").get_data(as_text=True)
    releases = re.search(r'<p id="releases">(.*?)</p>', confirm, re.S)
    assert releases and "<strong>2</strong>" in releases.group(1)
    assert f"<code>{parked.key}</code>" in releases.group(1) and "in order" in releases.group(1)

    token = CSRF_FIELD.search(confirm)
    assert token
    client.post(
        f"/ops/dead-letters/{parked.dead_letter_id}/skip", data={"csrf_token": token.group(1)}
    )
    assert parked.statuses() == ["skipped", "pending", "waiting"]
    after = client.get("/ops").get_data(as_text=True)
    assert 'id="nothing-parked"' in after and 'id="parked-table"' not in after
    backlog = after[after.index(f"<code>{HANDLER}</code>") :].split("</tr>")[0]
    assert _cells(backlog)[:6] == ["1", "0", "0", "0", "1", "0"]

    parked.deliver()
    assert parked.received() == ["order.payment_processed", "order.shipped"]
