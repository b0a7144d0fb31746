"""One contract, two implementations: tests/fakes.py must behave like the SQL adapters.

Unit tests trust the fakes; this suite earns that trust by running the same scenarios
against ``FakeUnitOfWork`` and against ``SqlUnitOfWork`` on the migrated SQLite database.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from app.application import command_handlers
from app.application.event_handlers.registry import subscribers
from app.application.messages import MessageContext
from app.application.ports import Committed, ReadModelQueries, UnitOfWork
from app.application.read_models import UserProfile
from app.domain.commands import Command, CreateOrder, ProcessPayment, RegisterUser
from app.domain.errors import ConcurrencyConflict, EmailTaken
from app.domain.events import LineItem, UserRegistered
from app.domain.models import Order, User
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork
from tests.fakes import FakeDatabase, FakeReadModelQueries, FakeUnitOfWork
from tests.support.inprocess import container

CONTEXT = MessageContext("contract-corr", "contract-cause")
USER = "11111111-1111-4111-8111-111111111111"
ORDER = "22222222-2222-4222-8222-222222222222"
TABLES = {
    "users": "users",
    "orders": "orders",
    "events": "events",
    "deliveries": "outbox",
    "receipts": "handler_receipts",
    "order_summaries": "order_summaries",
    "user_profiles": "user_profiles",
}


@dataclass
class Backend:
    uow: Callable[[], UnitOfWork]
    committed: Callable[[], dict[str, int]]
    delivery_status: Callable[[int], str]
    queries: ReadModelQueries


def _fake() -> Backend:
    db = FakeDatabase()

    def committed() -> dict[str, int]:
        return db.row_counts()

    return Backend(
        lambda: FakeUnitOfWork(db),
        committed,
        lambda delivery_id: db.deliveries[delivery_id].status,
        FakeReadModelQueries(db),
    )


def _sql(app: Flask) -> Backend:
    engine = container(app).engine
    path = engine.url.database
    assert path

    def read(sql: str) -> list[tuple[Any, ...]]:
        # A plain sqlite3 reader sees only committed data (WAL) and never waits on writers.
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchall()

    def committed() -> dict[str, int]:
        return {k: int(read(f"SELECT count(*) FROM {t}")[0][0]) for k, t in TABLES.items()}

    return Backend(
        lambda: SqlUnitOfWork(engine, subscribers),
        committed,
        lambda delivery_id: str(read(f"SELECT status FROM outbox WHERE id = {delivery_id}")[0][0]),
        SqlReadModelQueries(engine),
    )


@pytest.fixture(params=["fake", "sql"])
def backend(request: pytest.FixtureRequest, app: Flask) -> Backend:
    return _fake() if request.param == "fake" else _sql(app)


def _execute(backend: Backend, command: Command) -> Committed:
    with backend.uow() as uow:
        command_handlers.handle(command, uow)
        return uow.commit(CONTEXT)


def _register(backend: Backend, email: str = "ada@example.com") -> Committed:
    return _execute(backend, RegisterUser(user_id=USER, email=email, name="Ada"))


def _create_order(backend: Backend) -> Committed:
    items = (LineItem("book", 2, Decimal("12.50")),)
    return _execute(backend, CreateOrder(order_id=ORDER, user_id=USER, items=items))


def test_commit_writes_state_events_and_one_delivery_per_subscriber(backend: Backend) -> None:
    before = backend.committed()
    committed = _register(backend)
    after = backend.committed()
    assert after["users"] == before["users"] + 1
    assert after["events"] == before["events"] + 1
    assert after["deliveries"] == before["deliveries"] + len(subscribers("user.registered"))
    assert len(committed.delivery_ids) == len(subscribers("user.registered"))
    assert {backend.delivery_status(i) for i in committed.delivery_ids} == {"pending"}
    assert committed.position is not None


def test_nothing_is_visible_before_commit_and_leaving_without_commit_discards(
    backend: Backend,
) -> None:
    before = backend.committed()
    with backend.uow() as uow:
        command_handlers.handle(RegisterUser(user_id=USER, email="a@b.io", name="A"), uow)
        uow.receipts.claim("some-event", "some_handler")
        uow.projections.upsert_user_profile(UserProfile(USER, "a@b.io", "A", 0, 1))
        assert backend.committed() == before
    assert backend.committed() == before
    with backend.uow() as uow:
        assert uow.users.get(USER) is None
        assert not uow.receipts.already_applied("some-event", "some_handler")


def test_an_exception_inside_execute_leaves_no_trace(backend: Backend) -> None:
    _register(backend)
    before = backend.committed()
    with pytest.raises(EmailTaken):
        _execute(backend, RegisterUser(user_id=ORDER, email="ADA@example.com", name="Eve"))
    assert backend.committed() == before


def test_emails_are_unique_case_insensitively(backend: Backend) -> None:
    _register(backend, "Ada@Example.com")
    with backend.uow() as uow:
        assert uow.users.get_by_email("ada@EXAMPLE.com") is not None
        with pytest.raises(EmailTaken):
            uow.users.add(User.register(ORDER, "ADA@example.COM", "Eve"))


def test_saving_a_stale_aggregate_conflicts_and_writes_nothing(backend: Backend) -> None:
    _register(backend)
    _create_order(backend)
    with backend.uow() as uow:
        stale = uow.orders.get(ORDER)
    assert isinstance(stale, Order)
    _execute(backend, ProcessPayment(order_id=ORDER, amount=Decimal("25.00")))
    before = backend.committed()
    stale.cancel("too late")
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.orders.save(stale)
        uow.commit(CONTEXT)
    assert backend.committed() == before


def test_receipts_are_claimed_once(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.receipts.claim("e1", "h")
        assert not uow.receipts.claim("e1", "h")
        assert uow.receipts.claim("e1", "other")
        uow.commit(CONTEXT)
    with backend.uow() as uow:
        assert uow.receipts.already_applied("e1", "h")
        assert not uow.receipts.claim("e1", "h")
        assert not uow.receipts.already_applied("e2", "h")


def test_mark_delivery_done_commits_with_the_unit_of_work(backend: Backend) -> None:
    delivery_id = _register(backend).delivery_ids[0]
    with backend.uow() as uow:
        uow.receipts.mark_delivery_done(delivery_id)
    assert backend.delivery_status(delivery_id) == "pending"
    with backend.uow() as uow:
        uow.receipts.mark_delivery_done(delivery_id)
        uow.commit(CONTEXT)
    assert backend.delivery_status(delivery_id) == "done"


def test_projection_upserts_keep_the_newest_version(backend: Backend) -> None:
    for version, points in ((3, 30), (2, 20), (4, 40), (4, 99)):
        with backend.uow() as uow:
            uow.projections.upsert_user_profile(UserProfile(USER, "a@b.io", "A", points, version))
            uow.commit(CONTEXT)
    profile = backend.queries.user_profile(USER)
    assert profile is not None
    assert profile.loyalty_points == 40


def test_clear_then_upsert_replaces_everything(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.projections.upsert_user_profile(UserProfile(USER, "a@b.io", "A", 5, 9))
        uow.commit(CONTEXT)
    with backend.uow() as uow:
        uow.projections.clear()
        uow.projections.upsert_user_profile(UserProfile(USER, "a@b.io", "A", 1, 1))
        uow.commit(CONTEXT)
    profile = backend.queries.user_profile(USER)
    assert profile is not None
    assert profile.loyalty_points == 1


def test_streams_load_in_version_order_and_ids_in_first_seen_order(backend: Backend) -> None:
    _register(backend)
    _create_order(backend)
    _execute(backend, ProcessPayment(order_id=ORDER, amount=Decimal("25.00")))
    with backend.uow() as uow:
        stream = uow.events.load_stream(ORDER)
        assert [e.aggregate_version for e in stream] == [1, 2]
        assert [e.event_type for e in stream] == ["order.created", "order.payment_processed"]
        [registered] = uow.events.load_stream(USER)
        assert isinstance(registered, UserRegistered)
        assert list(uow.events.aggregate_ids("order")) == [ORDER]
        assert list(uow.events.aggregate_ids("user")) == [USER]
        assert uow.events.load_stream("nobody") == []
