"""What a command and a delivery cost the database, counted on PostgreSQL.

A successful delivery writes in two transactions: the attempt, counted on its own
(autocommit, one statement), then the handler with its receipt and ``done`` in one
transaction. Reads a handler makes for itself (a contact address) are one statement each. A
command is one transaction; its deliveries are published right after, with no second
transaction to mark them. No connection is pinged before use.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from app.application.deliveries import Done
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import events, outbox
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.system,
    pytest.mark.parametrize(
        "stack",
        [("postgresql", "redis"), ("postgresql", "rabbitmq")],
        ids=["postgresql-redis", "postgresql-rabbitmq"],
        indirect=True,
    ),
]

MAX_ROUND_TRIPS_PER_DELIVERY = 7


@dataclass
class DatabaseWork:
    """The statements run on one engine while watching, grouped by transaction.

    An autocommit statement is a transaction of its own; an explicit transaction also
    costs a BEGIN and a COMMIT round trip.
    """

    transactions: list[list[str]] = field(default_factory=list)
    explicit: int = 0

    @property
    def statements(self) -> list[str]:
        return [s for tx in self.transactions for s in tx]

    @property
    def writing_transactions(self) -> int:
        return sum(1 for tx in self.transactions if any(not _reads(s) for s in tx))

    @property
    def round_trips(self) -> int:
        return len(self.statements) + 2 * self.explicit

    def watch(self, engine: sa.Engine) -> "DatabaseWork":
        def on_begin(conn: sa.Connection) -> None:
            if not _autocommit(conn):
                self.explicit += 1
                self.transactions.append([])

        def on_statement(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
            if _autocommit(conn) or not self.transactions:
                self.transactions.append([statement])
            else:
                self.transactions[-1].append(statement)

        sa.event.listen(engine, "begin", on_begin)
        sa.event.listen(engine, "before_cursor_execute", on_statement)
        self._listeners: list[tuple[str, Callable[..., None]]] = [
            ("begin", on_begin),
            ("before_cursor_execute", on_statement),
        ]
        self._engine = engine
        return self

    def stop(self) -> None:
        for name, listener in self._listeners:
            sa.event.remove(self._engine, name, listener)


def _reads(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT")


def _autocommit(conn: sa.Connection) -> bool:
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _order(stack: Stack) -> str:
    user = stack.client.post("/api/users", json={"email": "cost@example.com", "name": "Cost"})
    assert user.status_code == 201, user.get_data(as_text=True)
    created = stack.client.post(
        "/api/orders",
        json={
            "user_id": user.get_json()["user_id"],
            "items": [{"sku": "book", "quantity": 2, "unit_price": "9.90"}],
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    return str(created.get_json()["order_id"])


def _delivery(stack: Stack, handler: str, order_id: str) -> tuple[int, dict[str, Any]]:
    with stack.engine.connect() as conn:
        row = conn.execute(
            sa.select(outbox.c.id, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(outbox.c.handler == handler, events.c.aggregate_id == order_id)
        ).one()
    return int(row.id), envelope_from_row(row).to_dict()


@pytest.mark.parametrize("handler", ["project_order_summary", "send_order_confirmation"])
def test_a_successful_delivery_is_two_transactions(stack: Stack, handler: str) -> None:
    order_id = _order(stack)
    delivery_id, envelope = _delivery(stack, handler, order_id)
    # Another handler of the same event has already run: its receipt must not count.
    other_id, other_envelope = _delivery(stack, "notify_sales_channel", order_id)
    with stack.app.app_context():
        assert stack.container.runner.run("notify_sales_channel", other_id, other_envelope)

    work = DatabaseWork().watch(stack.engine)
    try:
        with stack.app.app_context():
            outcome = stack.container.runner.run(handler, delivery_id, envelope)
    finally:
        work.stop()

    assert outcome == Done(applied=True)
    assert work.writing_transactions == 2, work.transactions
    assert work.round_trips <= MAX_ROUND_TRIPS_PER_DELIVERY, work.statements
    assert not [s for s in work.statements if s.strip().upper() == "SELECT 1"], "a pre-ping"
    with stack.engine.connect() as conn:
        status = conn.execute(sa.select(outbox.c.status).where(outbox.c.id == delivery_id))
        assert status.scalar_one() == "done"


def test_a_command_is_one_transaction_and_only_writes(stack: Stack) -> None:
    """State, events and pending deliveries in one transaction; no lease, no broker."""
    user = stack.client.post("/api/users", json={"email": "one@example.com", "name": "One"})
    assert user.status_code == 201
    before = sum(stack.queue_depths().values())

    work = DatabaseWork().watch(stack.engine)
    try:
        created = stack.client.post(
            "/api/orders",
            json={
                "user_id": user.get_json()["user_id"],
                "items": [{"sku": "pen", "quantity": 1, "unit_price": "2.50"}],
            },
        )
    finally:
        work.stop()

    assert created.status_code == 201
    assert work.writing_transactions == 1, work.transactions
    assert len(work.transactions) == 1, work.transactions
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.status, outbox.c.dispatch_count, outbox.c.lease_until)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(events.c.aggregate_id == created.get_json()["order_id"])
        ).all()
    assert rows and {(r.status, r.dispatch_count) for r in rows} == {("pending", 0)}
    assert all(r.lease_until is None for r in rows)
    assert sum(stack.queue_depths().values()) == before
