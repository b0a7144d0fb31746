from collections.abc import Callable
from decimal import Decimal

import pytest

from app.application.deliveries import apply_delivery
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.messages import EventMessage, MessageContext
from app.domain.commands import CancelOrder, ProcessPayment
from app.domain.errors import NotFound
from app.domain.models import Order, User
from tests.fakes import Delivery, FakeDatabase, FakeOutbound, deliver, drain, finish_in, uow_factory
from tests.unit.conftest import Run
from tests.unit.samples import SAMPLE_EVENTS

REACTIONS = {"award_loyalty_points", "revoke_loyalty_points"}


def _only(*handlers: str) -> Callable[[Delivery], bool]:
    return lambda d: d.handler in handlers


def _delivery(db: FakeDatabase, event_type: str, handler: str) -> Delivery:
    [message] = db.messages(event_type)
    return db.deliveries_of(message.event.event_id)[handler]


def test_payment_awards_points_once_with_the_payments_trace(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    drain(db, out.outbound(), only=_only("award_loyalty_points"))
    [payment] = db.messages("order.payment_processed")
    [award] = db.messages("user.loyalty_points_awarded")
    assert award.event.points == 30  # type: ignore[attr-defined]
    assert award.event.aggregate_id == user.id
    assert award.context.correlation_id == payment.context.correlation_id
    assert award.context.causation_id == payment.event.event_id
    assert db.users[user.id].loyalty_points == 30
    assert db.deliveries_of(award.event.event_id), "the award event gets its own deliveries"


def test_a_redelivered_payment_awards_nothing_more(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    delivery = _delivery(db, "order.payment_processed", "award_loyalty_points")
    first = deliver(db, delivery, out.outbound())
    second = deliver(db, delivery, out.outbound())
    assert (first.applied, second.applied) == (True, False)
    assert len(db.messages("user.loyalty_points_awarded")) == 1
    assert second.new_delivery_ids == []


def test_a_second_delivery_row_of_the_same_event_awards_nothing_more(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    """Two relays published it under different delivery ids: the receipt still holds."""
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    delivery = _delivery(db, "order.payment_processed", "award_loyalty_points")
    [payment] = db.messages("order.payment_processed")
    spec = HANDLERS_BY_NAME["award_loyalty_points"]
    apply_delivery(
        spec, payment, delivery.delivery_id, uow_factory(db), out.outbound(), finish_in(db)
    )
    outcome = apply_delivery(spec, payment, 9999, uow_factory(db), out.outbound(), finish_in(db))
    assert not outcome.applied
    assert db.users[user.id].loyalty_points == 30


def test_cancelling_a_paid_order_revokes_what_was_awarded(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    drain(db, out.outbound(), only=_only(*REACTIONS))
    run(CancelOrder(order_id=order.id, reason="returned"))
    drain(db, out.outbound(), only=_only(*REACTIONS))
    [cancelled] = db.messages("order.cancelled")
    [revoked] = db.messages("user.loyalty_points_revoked")
    assert (revoked.event.points, revoked.event.balance) == (30, 0)  # type: ignore[attr-defined]
    assert revoked.context.causation_id == cancelled.event.event_id
    assert revoked.context.correlation_id == cancelled.context.correlation_id
    assert db.users[user.id].loyalty_points == 0


def test_cancelling_an_unpaid_order_revokes_nothing(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    run(CancelOrder(order_id=order.id, reason="no"))
    drain(db, out.outbound(), only=_only(*REACTIONS))
    assert db.messages("user.loyalty_points_revoked") == []
    assert db.users[user.id].version == 1


def test_revoke_delivered_before_award_leaves_no_points(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    """Out of order: cancel's revoke runs first (nothing to take), then the award must not pay."""
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    run(CancelOrder(order_id=order.id, reason="quick"))
    deliver(db, _delivery(db, "order.cancelled", "revoke_loyalty_points"), out.outbound())
    deliver(db, _delivery(db, "order.payment_processed", "award_loyalty_points"), out.outbound())
    assert db.messages("user.loyalty_points_awarded") == []
    assert db.messages("user.loyalty_points_revoked") == []
    assert db.users[user.id].loyalty_points == 0


def test_a_reaction_that_fails_leaves_no_receipt_and_no_effect(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    delivery = _delivery(db, "order.payment_processed", "award_loyalty_points")
    del db.users[user.id]  # the reaction's command will find no user
    before = db.row_counts()
    with pytest.raises(NotFound):
        deliver(db, delivery, out.outbound())
    assert db.row_counts() == before
    assert delivery.status == "pending"


def test_a_caused_context_keeps_the_correlation_and_names_the_event_as_cause() -> None:
    message = EventMessage(SAMPLE_EVENTS[4], MessageContext("corr", "cause"))
    context = message.caused_context()
    assert (context.correlation_id, context.causation_id) == ("corr", SAMPLE_EVENTS[4].event_id)
