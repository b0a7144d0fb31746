"""Eager-mode fixtures: the real app on a migrated SQLite file, Celery tasks run inline.

Eager mode proves the flow, not delivery semantics (no acks, no broker): that is what
tests/integration and tests/faults are for.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from app import create_app
from app.config import Settings
from app.container import Container
from tasks.registration import register_tasks

AppFactory = Callable[..., Flask]


def build_app(
    instance_dir: Path, env: dict[str, str] | None = None, *, eager: bool = True
) -> Flask:
    """The app on a migrated SQLite file in ``instance_dir``, publishing to ``memory://``.

    ``eager`` runs the Celery tasks inline (registered, errors propagated); otherwise
    commands only publish, and a test drives the deliveries itself.
    """
    settings = Settings.from_env(
        env={"CELERY_BROKER_URL": "memory://", **(env or {})},
        task_always_eager=eager,
        instance_dir=instance_dir,
        database_url=f"sqlite:///{instance_dir}/db.sqlite",
    )
    app = create_app(settings)
    with app.app_context():
        upgrade()
    if eager:
        celery = app.extensions["celery"]
        register_tasks(celery)
        celery.conf.task_eager_propagates = True
    return app


def container(app: Flask) -> Container:
    return cast(Container, app.extensions["outboxflow"])


@contextmanager
def app_factory(tmp_path: Path, *, eager: bool = True, **defaults: str) -> Iterator[AppFactory]:
    """Build apps (each in its own instance dir, ``defaults`` under its env); dispose after."""
    apps: list[Flask] = []

    def _make(**env: str) -> Flask:
        app = build_app(tmp_path / f"instance{len(apps)}", {**defaults, **env}, eager=eager)
        apps.append(app)
        return app

    try:
        yield _make
    finally:
        for app in apps:
            container(app).engine.dispose()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    with app_factory(tmp_path) as make:
        yield make


@pytest.fixture
def app(make_app: AppFactory, request: pytest.FixtureRequest) -> Flask:
    """``indirect`` parametrization may pass settings, e.g. ``{"ORDER_STORE": "events"}``."""
    return make_app(**getattr(request, "param", {}))


@pytest.fixture
def verify_aggregates(app: Flask) -> Iterator[None]:
    """After the test: every order's state must equal the fold of its events."""
    yield
    result = app.test_cli_runner().invoke(args=["aggregates", "verify"])
    assert result.exit_code == 0, result.output
    assert ", mismatched 0" in result.output


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def row_counts(app: Flask) -> dict[str, int]:
    """Rows in every table the migrations created (so new tables are covered too)."""
    engine = container(app).engine
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in sorted(names)
        }


def unfinished_deliveries(app: Flask) -> list[tuple[str, str, str | None]]:
    with container(app).engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT handler, status, last_error FROM outbox WHERE status != 'done'")
        ).all()
    return [tuple(r) for r in rows]


class Api:
    """The HTTP calls a client makes, asserting the happy path's status codes."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, email: str = "ada@example.com", name: str = "Ada") -> dict[str, Any]:
        response = self.client.post("/api/users", json={"email": email, "name": name})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def create_order(self, user_id: str, *items: tuple[str, int, Any]) -> dict[str, Any]:
        items = items or (("book", 2, "12.50"), ("pen", 3, "1.99"))
        body = {
            "user_id": user_id,
            "items": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in items],
        }
        response = self.client.post("/api/orders", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def pay(self, order: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.client.post(
            f"/api/orders/{order['order_id']}/pay",
            json={"amount": order["total"]},
            headers=headers or {},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def ship(self, order: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"/api/orders/{order['order_id']}/ship", json={})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def cancel(self, order: dict[str, Any], reason: str = "") -> dict[str, Any]:
        response = self.client.post(
            f"/api/orders/{order['order_id']}/cancel", json={"reason": reason}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def user(api: Api) -> dict[str, Any]:
    return api.register()


@pytest.fixture
def order(api: Api, user: dict[str, Any]) -> dict[str, Any]:
    created = api.create_order(user["user_id"])
    assert created["total"] == str(Decimal("30.97"))
    return created
