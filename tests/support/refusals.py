"""Checks every refusal shares: status, a JSON error body, the trace header, no writes."""

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.inprocess import row_counts


def assert_refused(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str) and body["message"]
    assert response.headers.get("X-Correlation-ID")
    return body


class NoWrites:
    """``with NoWrites(app): ...`` fails if any table changed inside the block."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __enter__(self) -> "NoWrites":
        self.before = row_counts(self.app)
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            assert row_counts(self.app) == self.before, "a refused request wrote rows"


def assert_payment_refused(
    app: Flask, client: FlaskClient, order: dict[str, Any], amount: Any
) -> None:
    """Paying ``amount`` for ``order`` is a 422 naming ``amount``, and writes nothing."""
    with NoWrites(app):
        refusal = assert_refused(
            client.post(f"/api/orders/{order['order_id']}/pay", json={"amount": amount}), 422
        )
    assert "amount" in refusal["fields"]
