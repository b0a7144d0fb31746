"""A forged task is not believed: it runs only the delivery the outbox says it names,
on the event as stored.

The finding: a ``send_welcome_email`` task carrying the ``delivery_id`` of a pending
``forward_to_webhooks`` delivery and a made-up envelope sent the welcome email to the
made-up address, marked the webhook delivery done, and the real webhook was never sent.
"""

import json
from typing import Any

import pytest
from kombu.messaging import Producer

from tests.faults.conftest import Rig
from tests.support.waiting import wait_until
from tests.support.workload import Workload, register_users

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

MALLORY = "mallory@attacker.example"


def _webhook_delivery(rig: Rig) -> tuple[int, dict[str, Any]]:
    """A pending webhook delivery and its event's envelope, as the event API shows it."""
    with rig.stack.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT id, event_id FROM outbox WHERE handler = 'forward_to_webhooks' ORDER BY id"
        ).first()
    assert row is not None
    event = rig.stack.client.get(f"/api/events/{row.event_id}").get_json()
    return int(row.id), event


def _publish_forged(rig: Rig, delivery_id: int, event: dict[str, Any]) -> None:
    envelope = {
        "event_id": event["event_id"],
        "event_type": "user.registered",
        "schema_version": 2,
        "aggregate_type": "user",
        "aggregate_id": event["aggregate_id"],
        "aggregate_version": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "correlation_id": "forged",
        "causation_id": "forged",
        "payload": {"email": MALLORY, "name": "Mallory"},
    }
    queue = rig.stack.celery.amqp.queues["notifications"]
    with rig.stack.celery.connection_for_write() as connection:
        Producer(connection).publish(
            json.dumps([[], {"delivery_id": delivery_id, "envelope": envelope}, None]),
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "handlers.send_welcome_email", "id": "forged-1", "lang": "py"},
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
        )


def test_a_forged_task_runs_nothing_and_the_real_webhook_is_sent(rig: Rig) -> None:
    workload = Workload.generate(users=1, orders=0)
    register_users(rig.stack.client, workload)
    # The command only wrote its deliveries: the forged message is the first on a queue.
    delivery_id, event = _webhook_delivery(rig)
    _publish_forged(rig, delivery_id, event)

    rig.stack.start_worker(concurrency=2)
    wait_until(
        lambda: rig.stack.client.get("/api/dead-letters").get_json()["items"],
        timeout=30,
        what="the forged message's dead letter",
    )
    [dead] = rig.stack.client.get("/api/dead-letters").get_json()["items"]
    assert "does not match the outbox" in dead["message"], dead
    rig.stack.start_beat()
    rig.verify(expected_dead=0, expected_dead_letters=1)

    mail = [m.as_string() for m in rig.stack.emails()]
    assert not any(MALLORY in m for m in mail), "the forged envelope's address got mail"
    assert any(workload.users[0].email in m for m in mail)
    webhook_events = [c.event_type for c in rig.receiver.calls]
    assert "user.registered" in webhook_events
