"""The following relay publishes a command's deliveries at its commit, not at its next sweep.

The idle sweep is set to a minute, so only the wake-up (NOTIFY on PostgreSQL, the 20 ms
poll on SQLite) can publish within the test's bound. Commands only write: until the relay
runs, their rows stay ``pending`` and the broker holds nothing.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.infrastructure.messaging.relay_follower import RelayFollower
from app.infrastructure.persistence import relay_heartbeats
from app.infrastructure.persistence.tables import outbox
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import build_app, container
from tests.support.waiting import wait_until

IDLE_SECONDS = 60.0


@pytest.fixture(params=DATABASE_KINDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Flask]:
    database_url = None if request.param == "sqlite" else make_database(request.param).url
    built = build_app(tmp_path, eager=False, database_url=database_url)
    yield built
    container(built).engine.dispose()


@pytest.fixture
def following(app: Flask) -> Iterator[threading.Event]:
    c = container(app)
    stop = threading.Event()
    follower = RelayFollower(c.relay, c.engine, idle_seconds=IDLE_SECONDS)
    thread = threading.Thread(target=follower.follow, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: _heartbeat(app) is not None, timeout=10, what="the relay's first loop")
    yield stop
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _heartbeat(app: Flask) -> float | None:
    with container(app).engine.connect() as conn:
        return relay_heartbeats.age_seconds(conn)


def _statuses(app: Flask) -> list[str]:
    with container(app).engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.status)).scalars())


def _register(app: Flask, email: str) -> None:
    answer = app.test_client().post("/api/users", json={"email": email, "name": "Ada"})
    assert answer.status_code == 201, answer.get_data(as_text=True)


def test_without_a_relay_a_command_s_deliveries_wait_pending(app: Flask) -> None:
    _register(app, "ada@example.com")
    statuses = _statuses(app)
    assert statuses and set(statuses) == {"pending"}


def test_a_commit_wakes_the_relay(app: Flask, following: threading.Event) -> None:
    for n in range(3):
        _register(app, f"user{n}@example.com")
        wait_until(
            lambda: set(_statuses(app)) == {"dispatched"},
            timeout=5,
            what="the commit's deliveries published by the woken relay",
        )


def test_the_relay_records_its_heartbeat(app: Flask, following: threading.Event) -> None:
    age = _heartbeat(app)
    assert age is not None and age < 5
