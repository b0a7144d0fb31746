"""``Idempotency-Key`` on every POST command: a repeat replays the stored reply and writes
nothing; reuse with another path or body is 422; a repeat while the first runs is 409;
a command's refusal is stored; a 5xx, a body refused before the command ran and a lost
race are not; keys expire and the retention task purges them."""

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.api import auth
from app.api.idempotency import request_fingerprint
from app.application import command_handlers
from app.application.maintenance_tasks import RETENTION_TASK
from app.domain.commands import RegisterUser
from app.domain.errors import ConcurrencyConflict
from app.infrastructure.persistence.idempotency import IdempotencyKeys, IdempotencyRecord
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import idempotency_keys
from tests.support.inprocess import Api, AppFactory, container, row_counts

USER = {"email": "ada@example.com", "name": "Ada"}


def post(client: FlaskClient, path: str, body: Any, key: str | None = "k-1", **kw: Any) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(path, json=body, headers=headers, **kw)


def test_a_repeat_replays_the_reply_and_writes_nothing(app: Flask, client: FlaskClient) -> None:
    first = post(client, "/api/users", USER)
    counts = row_counts(app)

    again = post(client, "/api/users", USER)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["X-Event-Position"] == first.headers["X-Event-Position"] == "1"
    assert row_counts(app) == counts


def test_the_same_json_written_differently_is_the_same_body(client: FlaskClient) -> None:
    first = post(client, "/api/users", USER)
    again = client.post(
        "/api/users",
        data='{ "name": "Ada",   "email": "ada@example.com" }',
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()


def test_reusing_a_key_for_another_body_or_path_is_422(
    app: Flask, client: FlaskClient, api: Api
) -> None:
    user = post(client, "/api/users", USER).get_json()
    counts = row_counts(app)

    other_body = post(client, "/api/users", {**USER, "name": "Bob"})
    order = {"user_id": user["user_id"], "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}
    other_path = post(client, "/api/orders", order)

    for response in (other_body, other_path):
        assert response.status_code == 422
        assert response.get_json()["error"] == "idempotency_key_reused"
    assert row_counts(app) == counts


def test_a_repeat_while_the_first_still_runs_is_409(app: Flask, client: FlaskClient) -> None:
    keys = IdempotencyKeys(container(app).engine, timedelta(hours=1))
    with app.test_request_context("/api/users", method="POST", json=USER):
        keys.claim(auth.caller(), "k-busy", request_fingerprint())  # as the first request began
    counts = row_counts(app)

    response = post(client, "/api/users", USER, key="k-busy")

    assert response.status_code == 409
    assert response.get_json()["error"] == "idempotency_key_in_flight"
    assert row_counts(app) == counts


def test_a_refusal_is_stored_and_replayed(app: Flask, client: FlaskClient) -> None:
    order = {
        "user_id": "8b1f9a52-0000-4000-8000-000000000000",
        "items": [{"sku": "a", "quantity": 1, "unit_price": 1}],
    }
    first = post(client, "/api/orders", order)
    post(client, "/api/users", USER, key=None)  # the user appears, but the reply is kept

    again = post(client, "/api/orders", order)

    assert first.status_code == again.status_code == 404
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_body_refused_before_the_command_ran_is_not_stored(
    app: Flask, client: FlaskClient
) -> None:
    refused = post(client, "/api/users", {"email": "not an address", "name": "Ada"})
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "validation_failed"
    assert row_counts(app)["idempotency_keys"] == 0

    fixed = post(client, "/api/users", USER)
    again = post(client, "/api/users", USER)

    assert fixed.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert row_counts(app)["users"] == 1


@pytest.mark.parametrize(
    ("raised", "answer"),
    [
        (RuntimeError("the disk is on fire"), (500, "internal_error")),
        (ConcurrencyConflict("another command changed user first"), (409, "conflict")),
    ],
    ids=["a 5xx", "a lost race"],
)
def test_an_answer_a_retry_may_change_is_not_stored_so_a_retry_runs(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    answer: tuple[int, str],
) -> None:
    def failing(_command: RegisterUser, _uow: Any) -> None:
        raise raised

    monkeypatch.setitem(command_handlers.COMMAND_HANDLERS, RegisterUser, failing)
    failed = post(client, "/api/users", USER)
    monkeypatch.undo()
    assert (failed.status_code, failed.get_json()["error"]) == answer
    assert row_counts(app)["idempotency_keys"] == 0

    retried = post(client, "/api/users", USER)

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_the_reply_commits_with_the_command_or_not_at_all(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = IdempotencyRecord.write

    def write_then_fail(self: IdempotencyRecord, position: int | None) -> None:
        written(self, position)
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(IdempotencyRecord, "write", write_then_fail)
    failed = post(client, "/api/users", USER)
    assert failed.status_code == 500
    counts = row_counts(app)
    assert counts["users"] == counts["events"] == counts["idempotency_keys"] == 0
    monkeypatch.undo()

    done = post(client, "/api/users", USER)
    assert done.status_code == 201
    with container(app).engine.connect() as conn:
        stored = conn.execute(sa.select(idempotency_keys)).one()
    assert (stored.status, stored.status_code, stored.event_position) == ("done", 201, 1)
    assert stored.response == done.get_json()


@pytest.mark.parametrize(
    ("action", "body"),
    [("pay", None), ("ship", {}), ("cancel", {"reason": "late"})],
)
def test_every_post_command_takes_a_key(
    app: Flask, client: FlaskClient, api: Api, order: dict[str, Any], action: str, body: Any
) -> None:
    if action == "ship":
        api.pay(order)
    payload = {"amount": order["total"]} if body is None else body
    path = f"/api/orders/{order['order_id']}/{action}"
    first = post(client, path, payload, key=f"k-{action}")
    counts = row_counts(app)

    again = post(client, path, payload, key=f"k-{action}")

    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert row_counts(app) == counts


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_422_and_changes_nothing(
    app: Flask, client: FlaskClient, key: str
) -> None:
    counts = row_counts(app)
    response = client.post(
        "/api/users", json=USER, headers={"Idempotency-Key": key.encode().decode("latin-1")}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["fields"]
    assert row_counts(app) == counts


def test_a_key_of_255_visible_characters_is_accepted(client: FlaskClient) -> None:
    key = "".join(chr(33 + n % 94) for n in range(255))
    assert post(client, "/api/users", USER, key=key).status_code == 201
    assert post(client, "/api/users", USER, key=key).headers["Idempotent-Replayed"] == "true"


def test_keys_expire_and_the_retention_task_purges_them(app: Flask, client: FlaskClient) -> None:
    first = post(client, "/api/users", USER)
    kept = post(client, "/api/users", {**USER, "email": "bob@example.com"}, key="k-2")
    with container(app).engine.begin() as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == "k-1")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    again = post(client, "/api/users", USER)
    assert (first.status_code, kept.status_code, again.status_code) == (201, 201, 409)
    assert again.get_json()["error"] == "conflict"  # it ran again: the email is taken now

    with container(app).engine.begin() as conn:
        conn.execute(idempotency_keys.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    with app.app_context():
        app.extensions["celery"].tasks[RETENTION_TASK].run()
    assert row_counts(app)["idempotency_keys"] == 0


def test_the_ttl_comes_from_the_setting(make_app: AppFactory) -> None:
    app = make_app(IDEMPOTENCY_KEY_TTL_HOURS="2")
    before = utcnow()
    post(app.test_client(), "/api/users", USER)
    with container(app).engine.connect() as conn:
        expires_at = as_utc(conn.execute(sa.select(idempotency_keys.c.expires_at)).scalar_one())
    assert before + timedelta(hours=2) <= expires_at <= utcnow() + timedelta(hours=2)


# --- keys are scoped to the caller ------------------------------------------------------

TOKENS = ("caller-a-token", "caller-b-token")


@pytest.fixture
def callers(make_app: AppFactory) -> tuple[Flask, FlaskClient, FlaskClient]:
    """An app with two API tokens, a client for each, and a user for them to order for."""
    app = make_app(API_TOKENS=",".join(TOKENS))
    a, b = app.test_client(), app.test_client()
    for client, token in zip((a, b), TOKENS, strict=True):
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return app, a, b


def _order_body(client: FlaskClient) -> dict[str, Any]:
    user = Api(client).register()
    return {"user_id": user["user_id"], "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}


def test_another_caller_with_the_same_key_runs_its_own_command(
    callers: tuple[Flask, FlaskClient, FlaskClient],
) -> None:
    app, a, b = callers
    body = _order_body(a)

    first_a = post(a, "/api/orders", body)
    first_b = post(b, "/api/orders", body)
    again_a, again_b = post(a, "/api/orders", body), post(b, "/api/orders", body)

    assert first_a.status_code == first_b.status_code == 201
    assert "Idempotent-Replayed" not in first_b.headers
    assert first_b.get_json()["order_id"] != first_a.get_json()["order_id"]
    assert row_counts(app)["orders"] == 2
    assert again_a.get_json() == first_a.get_json() and again_b.get_json() == first_b.get_json()
    assert again_a.headers["Idempotent-Replayed"] == again_b.headers["Idempotent-Replayed"]


def test_reuse_is_422_only_within_one_caller(
    callers: tuple[Flask, FlaskClient, FlaskClient],
) -> None:
    app, a, b = callers
    assert post(a, "/api/users", USER).status_code == 201

    other_body = {**USER, "email": "bob@example.com"}
    assert post(b, "/api/users", other_body).status_code == 201
    reused = post(a, "/api/users", other_body)

    assert reused.status_code == 422
    assert reused.get_json()["error"] == "idempotency_key_reused"
    assert row_counts(app)["users"] == 2


def test_in_flight_is_409_only_within_one_caller(
    callers: tuple[Flask, FlaskClient, FlaskClient],
) -> None:
    app, a, b = callers
    auth_a = {"Authorization": f"Bearer {TOKENS[0]}"}
    keys = IdempotencyKeys(container(app).engine, timedelta(hours=1))
    with app.test_request_context("/api/users", method="POST", json=USER, headers=auth_a):
        keys.claim(auth.caller(), "k-busy", request_fingerprint())  # A's, still running

    assert post(b, "/api/users", USER, key="k-busy").status_code == 201
    busy = post(a, "/api/users", USER, key="k-busy")

    assert busy.status_code == 409
    assert busy.get_json()["error"] == "idempotency_key_in_flight"


def test_the_caller_is_stored_as_a_digest_never_the_token(
    callers: tuple[Flask, FlaskClient, FlaskClient],
) -> None:
    app, a, b = callers
    body = _order_body(a)
    post(a, "/api/orders", body)
    post(b, "/api/orders", body)

    with container(app).engine.connect() as conn:
        rows = conn.execute(sa.select(idempotency_keys)).all()
    assert len({row.caller for row in rows}) == 2
    assert not any(token in str(tuple(row)) for row in rows for token in TOKENS)


def test_without_tokens_every_caller_shares_one_scope(client: FlaskClient) -> None:
    first = post(client, "/api/users", USER)
    again = client.post(
        "/api/users", json=USER, headers={"Idempotency-Key": "k-1", "Authorization": "Bearer who"}
    )

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
