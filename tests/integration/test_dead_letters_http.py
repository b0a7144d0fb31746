"""``/api/dead-letters``: list with filters, inspect, re-drive one or many, skip one, admin token.

The dead letters are made the real way (see ``dead_letters_made`` in the CLI tests):
two ``forward_to_webhooks`` (receiver answered 400) and one ``notify_sales_channel``
(503, one attempt allowed).
"""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from app.application.errors import CorruptMessage
from app.infrastructure.persistence.tables import dead_letters
from tests.support.dead_letters import (
    ORDER_WEBHOOK,
    SALES,
    WEBHOOK,
    Graveyard,
    dead_letters_made,
)
from tests.support.inprocess import AppFactory, container
from tests.support.refusals import assert_refused

TOKEN = "s3cret-admin-token"


@pytest.fixture
def graveyard(make_app: AppFactory) -> Iterator[Graveyard]:
    with dead_letters_made(make_app) as made:
        yield made


@pytest.fixture
def client(graveyard: Graveyard) -> FlaskClient:
    return graveyard.app.test_client()


def _list(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/dead-letters?{urlencode(params)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


def test_list_returns_every_dead_letter_oldest_first_without_tracebacks(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    body = _list(client)
    assert body["count"] == 3
    assert _ids(body) == sorted(graveyard.ids.values())
    for item in body["items"]:
        assert "traceback" not in item
        assert item["status"] == "dead"
        assert {"handler", "event_type", "event_id", "attempts", "exception_type"} <= set(item)
        assert item["body"]["delivery_id"] == item["delivery_id"]


def test_list_filters(graveyard: Graveyard, client: FlaskClient) -> None:
    ids = graveyard.ids
    cases: list[tuple[dict[str, str], list[tuple[str, str]]]] = [
        ({"handler": "forward_to_webhooks"}, [WEBHOOK, ORDER_WEBHOOK]),
        ({"handler": "Forward_To_Webhooks"}, []),
        ({"event_type": "order.created"}, [ORDER_WEBHOOK, SALES]),
        ({"error": "Answered 503"}, [SALES]),
        ({"error": "PERMANENTFAILURE"}, [WEBHOOK, ORDER_WEBHOOK]),
        ({"error": "nothing like it"}, []),
        ({"handler": "forward_to_webhooks", "event_type": "order.created"}, [ORDER_WEBHOOK]),
    ]
    for params, expected in cases:
        body = _list(client, **params)
        assert _ids(body) == sorted(ids[key] for key in expected), params
        assert body["count"] == len(expected), params


def test_list_since(graveyard: Graveyard, client: FlaskClient) -> None:
    graveyard.age(WEBHOOK, timedelta(days=10))
    graveyard.age(ORDER_WEBHOOK, timedelta(hours=3))
    ids = graveyard.ids
    recent = sorted([ids[ORDER_WEBHOOK], ids[SALES]])
    assert _ids(_list(client, since="30m")) == [ids[SALES]]
    assert _ids(_list(client, since="4h")) == recent
    assert _ids(_list(client, since="7d")) == recent
    assert _ids(_list(client, since="11d")) == sorted(ids.values())
    five_days_ago = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    assert _ids(_list(client, since=five_days_ago)) == recent
    assert_refused(client.get("/api/dead-letters?since=yesterday"), 422)


def test_list_pages_with_limit_and_offset_and_counts_all_matches(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    everything = sorted(graveyard.ids.values())
    first = _list(client, limit=2)
    rest = _list(client, limit=2, offset=2)
    assert (_ids(first), _ids(rest)) == (everything[:2], everything[2:])
    assert first["count"] == rest["count"] == 3
    assert _list(client, offset=3) == {"count": 3, "items": []}
    assert len(_list(client, limit=500)["items"]) == 3


BAD_LIST_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=-1",
    "limit=ten",
    "offset=-1",
    "offset=1.5",
    "status=redriven",
    "status=",
    "handler=" + "h" * 101,
    "error=" + "e" * 201,
    "colour=red",
]


def test_list_refuses_out_of_bounds_parameters(client: FlaskClient) -> None:
    for query in BAD_LIST_QUERIES:
        body = assert_refused(client.get(f"/api/dead-letters?{query}"), 422)
        assert query.split("=")[0] in str(body), query
    assert _list(client, limit=1, offset=0)["count"] == 3


def test_status_all_includes_redriven(graveyard: Graveyard, client: FlaskClient) -> None:
    ids = graveyard.ids
    assert client.post(f"/api/dead-letters/{ids[WEBHOOK]}/retry").status_code == 200
    assert _ids(_list(client)) == sorted([ids[ORDER_WEBHOOK], ids[SALES]])
    assert _ids(_list(client, status="dead")) == sorted([ids[ORDER_WEBHOOK], ids[SALES]])
    every = _list(client, status="all")
    assert every["count"] == 3
    assert {i["id"]: i["status"] for i in every["items"]}[ids[WEBHOOK]] == "redriven"


def test_get_one_includes_the_traceback(graveyard: Graveyard, client: FlaskClient) -> None:
    response = client.get(f"/api/dead-letters/{graveyard.ids[SALES]}")
    assert response.status_code == 200
    item = response.get_json()
    assert (item["handler"], item["event_type"]) == SALES
    assert item["exception_type"] == "app.application.errors.TransientFailure"
    assert item["traceback"].startswith("Traceback (most recent call last)")
    assert "answered 503" in item["message"]


def test_answers_carry_every_column_of_the_store(graveyard: Graveyard, client: FlaskClient) -> None:
    """Answers are dumped through response schemas: a column they forgot would vanish."""
    item = client.get(f"/api/dead-letters/{graveyard.ids[WEBHOOK]}").get_json()
    assert set(item) == {column.name for column in dead_letters.c}
    assert all(set(listed) == set(item) - {"traceback"} for listed in _list(client)["items"])


def test_get_an_unknown_dead_letter_is_404(client: FlaskClient) -> None:
    body = assert_refused(client.get("/api/dead-letters/999999"), 404)
    assert "999999" in body["message"]


def test_retry_one_then_409_and_unknown_404(graveyard: Graveyard, client: FlaskClient) -> None:
    dead_letter_id = graveyard.ids[ORDER_WEBHOOK]

    response = client.post(f"/api/dead-letters/{dead_letter_id}/retry")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"retried": [dead_letter_id]}
    delivery = graveyard.delivery(ORDER_WEBHOOK)
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == (
        "pending",
        0,
        None,
    )
    assert graveyard.dead_letter(ORDER_WEBHOOK)["status"] == "redriven"

    state = graveyard.snapshot()
    again = assert_refused(client.post(f"/api/dead-letters/{dead_letter_id}/retry"), 409)
    assert "redriven" in again["message"]
    assert_refused(client.post("/api/dead-letters/999999/retry"), 404)
    assert graveyard.snapshot() == state


def test_retry_of_a_dead_letter_without_a_delivery_is_409(graveyard: Graveyard) -> None:
    """A message too broken to name its delivery is kept for inspection, not re-driven."""
    app = graveyard.app
    with app.app_context():
        container(app).runner.dead_letter_unroutable(
            CorruptMessage("cannot decode the message body"), "handlers.nope", {"raw": "x"}
        )
    [orphan] = _list(app.test_client(), handler="nope")["items"]
    assert (orphan["delivery_id"], orphan["status"]) == (None, "dead")
    state = graveyard.snapshot()
    body = assert_refused(app.test_client().post(f"/api/dead-letters/{orphan['id']}/retry"), 409)
    assert "delivery None" in body["message"]
    assert graveyard.snapshot() == state


def test_skip_one_answers_the_skipped_dead_letter_and_refuses_it_again(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    dead_letter_id = graveyard.ids[ORDER_WEBHOOK]

    response = client.post(f"/api/dead-letters/{dead_letter_id}/skip")

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["id"], body["status"], body["skipped_by"]) == (
        dead_letter_id,
        "skipped",
        "api:anonymous",
    )
    skipped_at = datetime.fromisoformat(body["skipped_at"])
    assert abs(datetime.now(UTC) - skipped_at) < timedelta(minutes=1)
    assert body["redriven_at"] is None and "traceback" not in body
    assert graveyard.delivery(ORDER_WEBHOOK)["status"] == "skipped"
    assert graveyard.dead_letter(WEBHOOK)["status"] == "dead"  # the others are untouched

    state = graveyard.snapshot()
    again = assert_refused(client.post(f"/api/dead-letters/{dead_letter_id}/skip"), 409)
    assert again["message"] == (
        f"dead letter {dead_letter_id} was already skipped by api:anonymous at {body['skipped_at']}"
    )
    retried = assert_refused(client.post(f"/api/dead-letters/{dead_letter_id}/retry"), 409)
    assert "status skipped" in retried["message"]
    assert graveyard.snapshot() == state


def test_skip_refuses_a_re_driven_an_unknown_and_an_undeliverable_one(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    app = graveyard.app
    with app.app_context():
        container(app).runner.dead_letter_unroutable(
            CorruptMessage("cannot decode the message body"), "handlers.nope", {"raw": "x"}
        )
    [orphan] = _list(client, handler="nope")["items"]
    redriven = graveyard.ids[WEBHOOK]
    assert client.post(f"/api/dead-letters/{redriven}/retry").status_code == 200
    state = graveyard.snapshot()

    body = assert_refused(client.post(f"/api/dead-letters/{redriven}/skip"), 409)
    assert f"dead letter {redriven} was re-driven at " in body["message"]
    assert "only a dead letter still dead can be skipped" in body["message"]
    body = assert_refused(client.post(f"/api/dead-letters/{orphan['id']}/skip"), 409)
    assert "names no delivery to skip" in body["message"]
    for unknown in (999999, 2**63):
        body = assert_refused(client.post(f"/api/dead-letters/{unknown}/skip"), 404)
        assert body["message"] == f"dead letter {unknown} does not exist"
    assert graveyard.snapshot() == state


def test_status_all_includes_skipped(graveyard: Graveyard, client: FlaskClient) -> None:
    ids = graveyard.ids
    assert client.post(f"/api/dead-letters/{ids[SALES]}/skip").status_code == 200
    assert _ids(_list(client)) == sorted([ids[WEBHOOK], ids[ORDER_WEBHOOK]])
    every = {i["id"]: i for i in _list(client, status="all")["items"]}
    assert (every[ids[SALES]]["status"], every[ids[SALES]]["skipped_by"]) == (
        "skipped",
        "api:anonymous",
    )
    assert client.post("/api/dead-letters/retry").get_json()["retried"] == sorted(
        [ids[WEBHOOK], ids[ORDER_WEBHOOK]]
    ), "bulk re-drive leaves skipped ones alone"


def test_retry_matching_filters(graveyard: Graveyard, client: FlaskClient) -> None:
    ids = graveyard.ids
    response = client.post(
        "/api/dead-letters/retry", json={"handler": "forward_to_webhooks", "since": "1h"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    webhooks = sorted([ids[WEBHOOK], ids[ORDER_WEBHOOK]])
    assert response.get_json() == {"matched": webhooks, "retried": webhooks, "dry_run": False}
    assert graveyard.delivery(WEBHOOK)["status"] == "pending"
    assert graveyard.delivery(ORDER_WEBHOOK)["status"] == "pending"
    assert graveyard.delivery(SALES)["status"] == "dead"
    # Nothing left to match: already re-driven ones are not matched again.
    again = client.post("/api/dead-letters/retry", json={"handler": "forward_to_webhooks"})
    assert again.get_json() == {"matched": [], "retried": [], "dry_run": False}


def test_retry_matching_dry_run_changes_nothing(graveyard: Graveyard, client: FlaskClient) -> None:
    state = graveyard.snapshot()
    response = client.post(
        "/api/dead-letters/retry",
        json={"event_type": "order.created", "error": "answered", "dry_run": True},
    )
    assert response.status_code == 200
    expected = sorted([graveyard.ids[ORDER_WEBHOOK], graveyard.ids[SALES]])
    assert response.get_json() == {"matched": expected, "retried": [], "dry_run": True}
    assert graveyard.snapshot() == state


def test_retry_matching_without_a_body_redrives_everything(
    graveyard: Graveyard, client: FlaskClient
) -> None:
    response = client.post("/api/dead-letters/retry")
    assert response.status_code == 200
    assert response.get_json()["retried"] == sorted(graveyard.ids.values())
    assert _list(client)["count"] == 0


def test_retry_matching_refuses_bad_filters(graveyard: Graveyard, client: FlaskClient) -> None:
    state = graveyard.snapshot()
    for body in ({"dry_run": "maybe"}, {"handler": 7}, {"since": "last week"}, {"status": "all"}):
        assert_refused(client.post("/api/dead-letters/retry", json=body), 422)
    assert graveyard.snapshot() == state


@pytest.fixture
def guarded(make_app: AppFactory) -> Iterator[Graveyard]:
    with dead_letters_made(make_app, ADMIN_TOKEN=TOKEN) as made:
        yield made


def _admin_calls(graveyard: Graveyard) -> list[tuple[str, str, dict[str, Any] | None]]:
    one = graveyard.ids[WEBHOOK]
    return [
        ("GET", "/api/dead-letters", None),
        ("GET", "/api/dead-letters?status=all&limit=1", None),
        ("GET", f"/api/dead-letters/{one}", None),
        ("GET", "/api/dead-letters/999999", None),
        ("POST", f"/api/dead-letters/{one}/retry", None),
        ("POST", "/api/dead-letters/999999/retry", None),
        ("POST", f"/api/dead-letters/{graveyard.ids[ORDER_WEBHOOK]}/skip", None),
        ("POST", "/api/dead-letters/999999/skip", None),
        ("POST", "/api/dead-letters/retry", {"dry_run": True}),
        ("POST", "/api/dead-letters/retry", {}),
    ]


WRONG_AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer wrong-token",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    f"Basic {TOKEN}",
    "bearer x",
]


def test_with_an_admin_token_every_dead_letter_endpoint_needs_it(guarded: Graveyard) -> None:
    client = guarded.app.test_client()
    state = guarded.snapshot()
    for authorization in WRONG_AUTHORIZATION:
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path, body in _admin_calls(guarded):
            response = client.open(path, method=method, json=body, headers=headers)
            refused = assert_refused(response, 401)
            assert "Bearer" in refused["message"], (authorization, method, path)
    assert guarded.snapshot() == state


def test_with_the_right_token_the_endpoints_work(guarded: Graveyard) -> None:
    client = guarded.app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    expected = [200, 200, 200, 404, 200, 404, 200, 404, 200, 200]
    got = [
        client.open(path, method=method, json=body, headers=headers).status_code
        for method, path, body in _admin_calls(guarded)
    ]
    assert got == expected
    assert guarded.dead_letter(WEBHOOK)["status"] == "redriven"
    assert guarded.delivery(SALES)["status"] == "pending"
    skipped = guarded.dead_letter(ORDER_WEBHOOK)
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert (skipped["status"], skipped["skipped_by"]) == ("skipped", f"api:token:{digest[:12]}")
    assert TOKEN not in skipped["skipped_by"]


def test_with_an_admin_token_stats_need_it_and_commands_stay_open(guarded: Graveyard) -> None:
    client = guarded.app.test_client()
    assert_refused(client.get("/api/outbox/stats"), 401)
    stats = client.get("/api/outbox/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert stats.status_code == 200
    assert stats.get_json()["dead"] == 3
    assert client.get("/healthz").status_code == 200
    user = client.post("/api/users", json={"email": "grace@example.com", "name": "Grace"})
    assert user.status_code == 201, user.get_data(as_text=True)
    assert client.get(f"/api/users/{user.get_json()['user_id']}").status_code == 200
