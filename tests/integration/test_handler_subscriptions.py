"""A handler gets deliveries only while its integration is configured, on both databases.

The workload (200 orders) runs through the HTTP API with no relay: commands only write, and
the test reads what they wrote. Every stored event must have exactly one delivery per
handler the app subscribes, and none other.
"""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.deliveries import Done
from app.application.event_handlers.registry import subscribers
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import events, outbox
from tests.fakes import FakeWebhooks
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import Api, build_app, container
from tests.support.workload import Workload, drive

WEBHOOK = "forward_to_webhooks"
RECEIVER = {"WEBHOOK_URLS": "http://127.0.0.1:9/partner|partner-secret"}
"""Configures the webhook handler; the apps here post through a ``FakeWebhooks``."""
ORDERS = 200


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, make_database: MakeDatabase) -> str | None:
    """None: ``build_app``'s own SQLite file; else a migrated PostgreSQL database."""
    return None if request.param == "sqlite" else make_database(request.param).url


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    built: list[Flask] = []
    yield built
    for app in built:
        container(app).engine.dispose()


def _deliveries(app: Flask) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """(event id, handler) of every delivery, and every stored event's type by id."""
    with container(app).engine.connect() as conn:
        pairs = Counter(
            (str(row.event_id), row.handler)
            for row in conn.execute(sa.select(outbox.c.event_id, outbox.c.handler))
        )
        stored = Counter(
            {
                str(row.event_id): 1
                for row in conn.execute(sa.select(events.c.event_id, events.c.event_type))
            }
        )
    return pairs, stored


def _expected(app: Flask) -> Counter[tuple[str, str]]:
    with container(app).engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.event_id, events.c.event_type)).all()
    subscriptions = container(app).subscriptions
    return Counter(
        (str(row.event_id), handler) for row in rows for handler in subscriptions(row.event_type)
    )


def _run_workload(app: Flask) -> None:
    drive(app.test_client(), Workload.generate(users=20, orders=ORDERS))


def test_without_webhook_urls_no_event_gets_a_webhook_delivery(
    tmp_path: Path, database_url: str | None, apps: list[Flask]
) -> None:
    apps.append(app := build_app(tmp_path, database_url=database_url, eager=False))
    _run_workload(app)

    pairs, stored = _deliveries(app)
    assert len(stored) > 2 * ORDERS  # registrations, orders, payments, shipments…
    assert not [pair for pair in pairs if pair[1] == WEBHOOK]
    assert pairs == _expected(app), "each event: one delivery per subscribed handler"
    with container(app).engine.connect() as conn:
        types = dict(conn.execute(sa.select(events.c.event_id, events.c.event_type)).all())
    declared = Counter(
        (str(event_id), handler)
        for event_id, event_type in types.items()
        for handler in subscribers(event_type)
        if handler != WEBHOOK
    )
    assert pairs == declared, "every other declared handler still gets each of its events"


def test_with_webhook_urls_every_event_gets_one_webhook_delivery(
    tmp_path: Path, database_url: str | None, apps: list[Flask]
) -> None:
    apps.append(app := build_app(tmp_path, RECEIVER, database_url=database_url, eager=False))
    _run_workload(app)

    pairs, stored = _deliveries(app)
    assert pairs == _expected(app)
    assert {event_id for event_id, handler in pairs if handler == WEBHOOK} == set(stored)
    assert max(pairs.values()) == 1


def test_a_handler_disabled_later_still_runs_the_deliveries_it_has(
    tmp_path: Path, database_url: str | None, apps: list[Flask]
) -> None:
    """Deliveries written while it was enabled run; new events get none."""
    apps.append(
        before := build_app(tmp_path / "before", RECEIVER, database_url=database_url, eager=False)
    )
    if database_url is None:
        database_url = str(container(before).engine.url)
    user = Api(before.test_client()).register()
    partner = FakeWebhooks()
    apps.append(
        after := build_app(
            tmp_path / "after", database_url=database_url, eager=False, webhooks=partner
        )
    )
    Api(after.test_client()).create_order(user["user_id"])

    with container(after).engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.id, outbox.c.handler, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(outbox.c.handler == WEBHOOK)
        ).all()
    [(delivery_id, _handler, *_)] = [tuple(r) for r in rows]
    assert rows[0].event_type == "user.registered", "the order's event got no webhook delivery"
    envelope = envelope_from_row(rows[0]).to_dict()
    assert container(after).runner.run(WEBHOOK, delivery_id, envelope) == Done(applied=True)
    assert [call.message.event.event_id for call in partner.calls] == [envelope["event_id"]]
