"""``Idempotency-Key`` on every POST command: a repeat replays the stored reply and writes
nothing; reuse with another path or body is 422; a repeat while the first runs is 409;
4xx replies are stored, 5xx are not; keys expire and the retention task purges them."""

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.api.idempotency import request_fingerprint
from app.application import command_handlers
from app.domain.commands import RegisterUser
from app.infrastructure.persistence.idempotency import IdempotencyKeys, IdempotencyRecord
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import idempotency_keys
from tasks.registration import RETENTION_TASK
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
        keys.claim("k-busy", request_fingerprint())  # what the first request did as it began
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


def test_a_5xx_is_not_stored_so_a_retry_runs(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_command: RegisterUser, _uow: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setitem(command_handlers.COMMAND_HANDLERS, RegisterUser, broken)
    failed = post(client, "/api/users", USER)
    monkeypatch.undo()

    retried = post(client, "/api/users", USER)

    assert failed.status_code == 500
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
