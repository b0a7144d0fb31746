"""Fixtures for the integration tier: the real app on a migrated SQLite file, tasks eager.

The helpers live in ``tests.support.inprocess``; they are imported here too so
``from tests.integration.conftest import ...`` keeps working.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.inprocess import (
    Api,
    AppFactory,
    app_factory,
    build_app,
    container,
    row_counts,
    unfinished_deliveries,
)

__all__ = [
    "Api",
    "AppFactory",
    "app_factory",
    "build_app",
    "container",
    "row_counts",
    "unfinished_deliveries",
]


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
