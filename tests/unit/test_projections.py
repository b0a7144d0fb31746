import random
from decimal import Decimal

import pytest

from app.application.event_handlers.projections import (
    PROJECTIONS,
    fold_order_summary,
    fold_user_profile,
    loyalty_points_for,
)
from app.application.messages import MessageContext
from app.application.read_models import OrderSummary, UserProfile
from app.domain.commands import (
    CancelOrder,
    CreateOrder,
    ProcessPayment,
    RegisterUser,
    ShipOrder,
)
from app.domain.events import LineItem
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
