import random
from decimal import Decimal
from typing import cast

import pytest

from app.application.event_handlers.projections import (
    PROJECTIONS,
    fold_order_summary,
    fold_user_profile,
    loyalty_points_for,
    project_user_profile,
)
from app.application.messages import EventMessage, MessageContext
from app.application.ports import UnitOfWork
from app.application.read_models import OrderSummary, UserProfile
from app.domain.commands import (
    CancelOrder,
    CreateOrder,
    ProcessPayment,
    RegisterUser,
    ShipOrder,
)
from app.domain.events import DomainEvent, LineItem
from app.domain.events.base import new_id
from app.domain.models import Order, User
from tests.fakes import (
    Delivery,
    FakeDatabase,
    FakeOutbound,
    FakeReadModelQueries,
    FakeUnitOfWork,
    drain,
)
from tests.unit.conftest import Run
from tests.unit.samples import USER, WRITTEN

PROJECTION_HANDLERS = {"project_order_summary", "project_user_profile"}


def _projection(d: Delivery) -> bool:
    return d.handler in PROJECTION_HANDLERS


def _history(run: Run, user: User) -> list[Order]:
    """A few orders in every state, and a user whose points went up and down."""
    orders = []
    for n, final in enumerate(["created", "paid", "shipped", "cancelled", "paid-cancelled"]):
        items = (LineItem(f"sku-{n}", n + 1, Decimal("10.25")),)
        order = run(CreateOrder(order_id=new_id(), user_id=user.id, items=items))
        if final != "created" and final != "cancelled":
            run(ProcessPayment(order_id=order.id, amount=order.total))
        if final == "shipped":
            run(ShipOrder(order_id=order.id))
        if final.endswith("cancelled"):
            run(CancelOrder(order_id=order.id, reason="no"))
        orders.append(order)
    return orders


def test_projections_follow_the_event_store(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User
) -> None:
    orders = _history(run, user)
    drain(db, out.outbound())
    statuses = [db.order_summaries[o.id].status for o in orders]
    assert statuses == ["created", "paid", "shipped", "cancelled", "cancelled"]
    paid = db.order_summaries[orders[1].id]
    assert paid == OrderSummary(
        order_id=orders[1].id,
        user_id=user.id,
        status="paid",
        total=Decimal("20.50"),
        items=(LineItem("sku-1", 2, Decimal("10.25")),),
        version=2,
        currency="EUR",
    )
    # Loyalty: 20 (paid) + 30 (shipped) + 51 (paid then cancelled, revoked) -> 50.
    profile = db.user_profiles[user.id]
    assert profile.loyalty_points == 50
    assert profile.version == db.users[user.id].version
    view = FakeReadModelQueries(db).user_profile(user.id)
    assert view is not None
    assert (view.order_count, view.total_spent) == (5, Decimal("51.25"))


@pytest.mark.parametrize("seed", range(8))
def test_projection_deliveries_shuffled_and_duplicated_give_the_same_read_models(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, seed: int
) -> None:
    """Brokers reorder and redeliver; the read models must not care."""
    _history(run, user)
    # The reactions (loyalty) run first, in order, so every event exists up front.
    drain(db, out.outbound(), only=lambda d: not _projection(d))
    in_order = FakeDatabase(
        users=db.users,
        orders=db.orders,
        events=db.events,
    )
    for delivery in db.deliveries.values():
        in_order.deliveries[delivery.delivery_id] = Delivery(**vars(delivery))
    drain(in_order, FakeOutbound.over(in_order).outbound())

    rng = random.Random(seed)

    def shuffled_with_duplicates(due: list[Delivery]) -> list[Delivery]:
        chosen = due + rng.sample(due, k=len(due) // 2)
        rng.shuffle(chosen)
        return chosen

    drain(db, out.outbound(), order=shuffled_with_duplicates)
    assert db.order_summaries == in_order.order_summaries
    assert db.user_profiles == in_order.user_profiles
    assert len(db.order_summaries) == 5


def test_a_late_delivery_sees_the_whole_stream_and_an_older_fold_never_wins(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    """Delivery of 'created' arriving after 'paid' still projects 'paid'."""
    run(ProcessPayment(order_id=order.id, amount=order.total))
    by_event = {
        m.event.event_type: db.deliveries_of(m.event.event_id)["project_order_summary"]
        for m in db.messages()
        if m.event.aggregate_id == order.id
    }
    outbound = out.outbound()
    drain(db, outbound, only=lambda d: d is by_event["order.payment_processed"])
    assert db.order_summaries[order.id].status == "paid"
    drain(db, outbound, only=lambda d: d is by_event["order.created"])
    assert (db.order_summaries[order.id].status, db.order_summaries[order.id].version) == (
        "paid",
        2,
    )


def test_upserts_never_replace_a_newer_version(db: FakeDatabase) -> None:
    newer = UserProfile(user_id="u", email="a@b.c", name="A", loyalty_points=9, version=3)
    older = UserProfile(user_id="u", email="a@b.c", name="A", loyalty_points=1, version=2)
    for first, second in ((newer, older), (older, newer)):
        db.user_profiles.clear()
        for profile in (first, second):
            with FakeUnitOfWork(db) as uow:
                uow.projections.upsert_user_profile(profile)
                uow.commit(MessageContext.root("upserts"))
        assert db.user_profiles["u"] == newer


def test_rebuild_gives_exactly_the_live_projections(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User
) -> None:
    _history(run, user)
    run(RegisterUser(user_id=new_id(), email="bob@example.com", name="Bob"))
    drain(db, out.outbound())
    live = (dict(db.order_summaries), dict(db.user_profiles))
    rebuilt: dict[str, dict[str, object]] = {}
    with FakeUnitOfWork(db) as uow:
        for projection in PROJECTIONS.values():
            rows = rebuilt.setdefault(projection.name, {})
            for aggregate_id in uow.events.aggregate_ids(projection.aggregate_type):
                folded = projection.fold(uow.events.load_stream(aggregate_id))
                if folded is not None:
                    rows[aggregate_id] = folded
    assert (len(rebuilt["order_summaries"]), len(rebuilt["user_profiles"])) == (5, 2)
    assert (rebuilt["order_summaries"], rebuilt["user_profiles"]) == live


def test_folds_of_an_empty_or_foreign_stream_give_nothing(db: FakeDatabase) -> None:
    assert fold_order_summary([]) is None
    assert fold_user_profile([]) is None


@pytest.mark.parametrize(
    ("amount", "points"), [("0.99", 0), ("1.00", 1), ("30.97", 30), ("999.99", 999)]
)
def test_one_point_per_whole_unit(amount: str, points: int) -> None:
    assert loyalty_points_for(Decimal(amount)) == points


class _ProfileStore:
    """Just what ``project_user_profile`` touches: the stored row and, if it must, the stream."""

    def __init__(self, stored: UserProfile | None, stream: list[DomainEvent]) -> None:
        self.stored, self.stream = stored, stream
        self.written: list[UserProfile] = []
        self.streams_loaded = 0
        self.projections, self.events = self, self

    def user_profile(self, user_id: str) -> UserProfile | None:
        return self.stored

    def upsert_user_profile(self, profile: UserProfile) -> None:
        self.written.append(profile)

    def load_stream(self, aggregate_id: str) -> list[DomainEvent]:
        self.streams_loaded += 1
        return self.stream


def _deliver_profile_event(store: _ProfileStore, event: DomainEvent) -> None:
    context = MessageContext("c", "c")
    project_user_profile(EventMessage(event, context), cast(UnitOfWork, store))


USER_STREAM = [e for e in WRITTEN if e.aggregate_id == USER]


@pytest.mark.parametrize(
    ("stored_version", "event_version", "streams_loaded", "written_version"),
    [
        pytest.param(2, 3, 0, 3, id="the next event: applied on the row"),
        pytest.param(3, 3, 0, None, id="a duplicate: nothing to do"),
        pytest.param(3, 2, 0, None, id="an older event: already in"),
        pytest.param(1, 3, 1, 3, id="a gap: the stream is folded"),
        pytest.param(None, 2, 1, 3, id="no row yet: the stream is folded"),
    ],
)
def test_the_profile_reads_the_stream_only_when_the_event_is_not_the_next_one(
    stored_version: int | None,
    event_version: int,
    streams_loaded: int,
    written_version: int | None,
) -> None:
    stored = None if stored_version is None else fold_user_profile(USER_STREAM[:stored_version])
    store = _ProfileStore(stored, USER_STREAM)

    _deliver_profile_event(store, USER_STREAM[event_version - 1])

    assert store.streams_loaded == streams_loaded
    expected = [] if written_version is None else [fold_user_profile(USER_STREAM[:written_version])]
    assert store.written == expected


def test_applying_events_one_by_one_equals_the_fold() -> None:
    store = _ProfileStore(None, USER_STREAM[:1])
    for event in USER_STREAM:
        _deliver_profile_event(store, event)
        store.stored = store.written[-1]
    assert store.stored == fold_user_profile(USER_STREAM)
    assert store.streams_loaded == 1
