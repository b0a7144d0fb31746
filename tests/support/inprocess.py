"""The real app in this process: a migrated SQLite file, Celery tasks run inline (eager).

Eager mode proves the flow, not delivery semantics (no acks, no broker): the real-process
tiers are for that.

* ``build_app`` / ``app_factory``: apps on their own copy of the migrated schema.
* ``Api``: the HTTP calls a client makes, asserting the happy path's status codes; it
  works on any Flask test client, a real-process ``Stack``'s included.
* ``row_counts`` / ``unfinished_deliveries``: what a test asserts on afterwards.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Unpack

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.bootstrap import Adapters
from app.config import Settings
from app.container import Container, container_of
from tasks.registration import register_tasks
from tests.support.databases import copy_migrated_sqlite

AppFactory = Callable[..., Flask]


def build_app(
    instance_dir: Path,
    env: dict[str, str] | None = None,
    *,
    eager: bool = True,
    database_url: str | None = None,
    **adapters: Unpack[Adapters],
) -> Flask:
    """The app on a migrated SQLite file in ``instance_dir``, publishing to ``memory://``.

    The file is a copy of the schema ``flask db upgrade`` built once for the session;
    ``database_url`` names a migrated database to use instead (``make_database``'s).

    ``eager`` runs the Celery tasks inline (registered, errors propagated); otherwise
    commands only publish, and a test drives the deliveries itself. ``adapters`` replace
    the named ones (a fake email sender, say), as ``bootstrap`` does.
    """
    if database_url is None:
        database = instance_dir / "db.sqlite"
        copy_migrated_sqlite(database)
        database_url = f"sqlite:///{database}"
    settings = Settings.from_env(
        env={"CELERY_BROKER_URL": "memory://", **(env or {})},
        task_always_eager=eager,
        instance_dir=instance_dir,
        database_url=database_url,
    )
    app = create_app(settings, **adapters)
    if eager:
        celery = app.extensions["celery"]
        register_tasks(celery)
        celery.conf.task_eager_propagates = True
    return app


def container(app: Flask) -> Container:
    return container_of(app)


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
