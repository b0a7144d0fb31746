"""apply_delivery: the handler runs once per (event, handler); duplicates have no effect."""

from decimal import Decimal

import pytest

from app.application import command_handlers
from app.application.deliveries import apply_delivery, idempotency_key
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.event_handlers.specs import HandlerSpec
from app.application.messages import EventMessage
from app.application.ports import Outbound, UnitOfWork
from app.application.read_models import UserProfile
from app.domain.commands import AwardLoyaltyPoints, ProcessPayment
from app.domain.models import Order, User
from tests.fakes import FakeDatabase, FakeOutbound, FakeUnitOfWork, finish_in, uow_factory
from tests.unit.conftest import Run


def _message(db: FakeDatabase, event_type: str) -> EventMessage:
    [message] = db.messages(event_type)
    return message


def _delivery_id(db: FakeDatabase, message: EventMessage, handler: str) -> int:
    return db.deliveries_of(message.event.event_id)[handler].delivery_id


def test_idempotency_key_is_event_id_and_handler() -> None:
    assert idempotency_key("e-1", "send_welcome_email") == "e-1:send_welcome_email"


def test_transactional_delivery_applies_once_and_marks_done(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    spec = HANDLERS_BY_NAME["project_user_profile"]
    message = _message(db, "user.registered")
    delivery_id = _delivery_id(db, message, spec.name)
    first = apply_delivery(
        spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db)
    )
    after_first = (dict(db.user_profiles), db.row_counts(), set(db.receipts))
    second = apply_delivery(
        spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db)
    )
    assert (first.applied, second.applied) == (True, False)
    assert (dict(db.user_profiles), db.row_counts(), set(db.receipts)) == after_first
    assert db.deliveries[delivery_id].status == "done"
    assert (message.event.event_id, spec.name) in db.receipts


def test_a_duplicate_still_marks_its_own_delivery_done(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    """Two delivery rows for one (event, handler): the second is closed without effect."""
    spec = HANDLERS_BY_NAME["project_user_profile"]
    message = _message(db, "user.registered")
    delivery_id = _delivery_id(db, message, spec.name)
    apply_delivery(spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db))
    other = _delivery_id(db, message, "send_welcome_email")
    outcome = apply_delivery(spec, message, other, uow_factory(db), out.outbound(), finish_in(db))
    assert not outcome.applied
    assert db.deliveries[other].status == "done"


def test_external_delivery_calls_out_once_with_the_stable_key(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    spec = HANDLERS_BY_NAME["send_welcome_email"]
    message = _message(db, "user.registered")
    delivery_id = _delivery_id(db, message, spec.name)
    for _ in range(3):
        apply_delivery(spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db))
    [email] = out.email.sent
    assert email.idempotency_key == f"{message.event.event_id}:send_welcome_email"
    assert db.deliveries[delivery_id].status == "done"


def test_reaction_outcome_lists_the_deliveries_it_caused(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    spec = HANDLERS_BY_NAME["award_loyalty_points"]
    message = _message(db, "order.payment_processed")
    outcome = apply_delivery(
        spec,
        message,
        _delivery_id(db, message, spec.name),
        uow_factory(db),
        out.outbound(),
        finish_in(db),
    )
    award = _message(db, "user.loyalty_points_awarded")
    assert outcome.applied
    assert sorted(outcome.new_delivery_ids) == sorted(
        d.delivery_id for d in db.deliveries_of(award.event.event_id).values()
    )


def test_a_failing_transactional_handler_leaves_no_receipt_and_no_writes(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    def explode(message: EventMessage, uow: UnitOfWork) -> None:
        uow.projections.upsert_user_profile(UserProfile(user.id, "x@y.z", "X", 0, 1))
        raise RuntimeError("boom")

    spec = HandlerSpec("exploding", frozenset({"user.registered"}), "q", transactional=explode)
    message = _message(db, "user.registered")
    delivery_id = _delivery_id(db, message, "project_user_profile")
    before = (db.row_counts(), set(db.receipts))
    with pytest.raises(RuntimeError, match="boom"):
        apply_delivery(spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db))
    assert (db.row_counts(), set(db.receipts)) == before
    assert db.deliveries[delivery_id].status == "pending"


def test_a_failing_external_handler_records_nothing(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    def fail(message: EventMessage, outbound: Outbound, key: str) -> None:
        raise TimeoutError("receiver slow")

    spec = HandlerSpec("flaky", frozenset({"user.registered"}), "q", external=fail)
    message = _message(db, "user.registered")
    delivery_id = _delivery_id(db, message, "send_welcome_email")
    with pytest.raises(TimeoutError):
        apply_delivery(spec, message, delivery_id, uow_factory(db), out.outbound(), finish_in(db))
    assert (message.event.event_id, "flaky") not in db.receipts
    assert db.deliveries[delivery_id].status == "pending"


def test_what_a_transactional_handler_records_commits_with_the_caused_context(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    def award(message: EventMessage, uow: UnitOfWork) -> None:
        command = AwardLoyaltyPoints(user_id=user.id, order_id="o-1", points=5)
        command_handlers.handle(command, uow)

    spec = HandlerSpec("spy", frozenset({"user.registered"}), "q", transactional=award)
    message = _message(db, "user.registered")
    apply_delivery(spec, message, 1, lambda: FakeUnitOfWork(db), out.outbound(), finish_in(db))
    [awarded] = db.messages("user.loyalty_points_awarded")
    assert (awarded.context.correlation_id, awarded.context.causation_id) == (
        message.context.correlation_id,
        message.event.event_id,
    )
