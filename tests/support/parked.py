"""A parked order made the real way, for tests of the operator surfaces of ordered delivery.

An app that is not eager (commands only write their deliveries) and a webhook receiver:
an order is created, paid and shipped, so the ordered ``forward_to_webhooks`` has three
deliveries of its key ``Order:<id>``. The receiver refuses the first (422, permanent):
the runner dead-letters it, and the payment and the shipment are parked behind it.
``ParkedOrder.deliver`` then runs what the relay would publish, as a worker would, in turn.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import dead_letters, events, outbox
from tests.support.http_receiver import Answer, HttpReceiver, Request, http_receiver
from tests.support.inprocess import Api, build_app, container

HANDLER = "forward_to_webhooks"
EVENTS = ("order.created", "order.payment_processed", "order.shipped")


@dataclass
class ParkedOrder:
    app: Flask
    receiver: HttpReceiver
    refused: set[str]
    """Event types the receiver answers 422; the rest get 200."""
    key: str
    deliveries: dict[str, int]
    """The order's ``forward_to_webhooks`` delivery ids by event type."""
    dead_letter_id: int
    """The dead letter of ``order.created``, the key's head."""

    def statuses(self) -> list[str]:
        """The order's deliveries' statuses, in event order."""
        ids = [self.deliveries[event_type] for event_type in EVENTS]
        with container(self.app).engine.connect() as conn:
            rows = dict(
                conn.execute(
                    sa.select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(ids))
                ).all()
            )
        return [rows[i] for i in ids]

    def dead_letter(self) -> dict[str, Any]:
        with container(self.app).engine.connect() as conn:
            query = sa.select(dead_letters).where(dead_letters.c.id == self.dead_letter_id)
            return dict(conn.execute(query).mappings().one())

    def received(self) -> list[str]:
        """The order's event types the receiver accepted, in arrival order."""
        accepted = [
            json.loads(exchange.request.body)["event_type"]
            for exchange in self.receiver.answered()
            if exchange.answer.status == 200
        ]
        return [event_type for event_type in accepted if event_type in EVENTS]

    def deliver(self) -> None:
        """Sweep and run what was published, as relay and worker do, until nothing moves."""
        c = container(self.app)
        for _ in range(10):
            c.relay.sweep(check_broker=False)
            published = _published(self.app)
            if not published:
                return
            for delivery_id, envelope in published:
                c.runner.run(HANDLER, delivery_id, envelope)
        raise AssertionError("the order's deliveries kept moving after 10 rounds")

    def answer(self, request: Request) -> Answer:
        event_type = json.loads(request.body)["event_type"]
        return Answer(422 if event_type in self.refused else 200)


def _published(app: Flask) -> list[tuple[int, dict[str, Any]]]:
    """``forward_to_webhooks`` deliveries the relay dispatched, oldest first, with envelopes."""
    with container(app).engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.id, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(outbox.c.handler == HANDLER, outbox.c.status == "dispatched")
            .order_by(outbox.c.id)
        ).all()
    return [(int(row.id), envelope_from_row(row).to_dict()) for row in rows]


@contextmanager
def parked_order(instance_dir: Path, **env: str) -> Iterator[ParkedOrder]:
    """An order whose ``order.created`` webhook is dead and whose later two are parked."""
    with http_receiver() as receiver:
        app = build_app(
            instance_dir,
            {"WEBHOOK_URLS": receiver.url("/hook"), "WEBHOOK_SECRET": "s", **env},
            eager=False,
        )
        api = Api(app.test_client())
        order = api.create_order(api.register()["user_id"])
        api.pay(order)
        api.ship(order)
        with container(app).engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.id, outbox.c.order_key, events.c.event_type)
                .join(events, events.c.event_id == outbox.c.event_id)
                .where(outbox.c.handler == HANDLER, events.c.event_type.in_(EVENTS))
            ).all()
        deliveries = {row.event_type: int(row.id) for row in rows}
        (key,) = {row.order_key for row in rows}
        parked = ParkedOrder(app, receiver, {"order.created"}, key, deliveries, 0)
        receiver.respond = parked.answer
        parked.deliver()
        with container(app).engine.connect() as conn:
            parked.dead_letter_id = conn.execute(
                sa.select(dead_letters.c.id).where(
                    dead_letters.c.delivery_id == deliveries["order.created"]
                )
            ).scalar_one()
        assert parked.statuses() == ["dead", "parked", "parked"], parked.statuses()
        try:
            yield parked
        finally:
            container(app).engine.dispose()
