from collections.abc import Callable
from decimal import Decimal

import pytest

from app.application import command_handlers
from app.application.event_handlers.registry import subscribers
from app.application.messages import MessageContext
from app.application.ports import ClaimedKey, Reply
from app.domain import commands
from app.domain.commands import (
    AwardLoyaltyPoints,
    CancelOrder,
    CreateOrder,
    ProcessPayment,
    RegisterUser,
    RevokeLoyaltyPoints,
    ShipOrder,
)
from app.domain.errors import (
    ConcurrencyConflict,
    EmailTaken,
    InvalidCommand,
    InvalidTransition,
    NotFound,
)
from app.domain.events import LineItem
from app.domain.events.base import new_id
from app.domain.models import Order, User
from tests.fakes import FakeDatabase, FakeUnitOfWork
from tests.unit.conftest import Run

CONTEXT = MessageContext(correlation_id="req-42", causation_id="req-42")
MISSING = "00000000-0000-4000-8000-000000000000"


def test_every_command_has_exactly_one_handler() -> None:
    assert set(command_handlers.COMMAND_HANDLERS) == set(commands.Command.__subclasses__())


def test_register_user_commits_the_event_and_its_deliveries(db: FakeDatabase, run: Run) -> None:
    user = run(RegisterUser(user_id="u1", email="ada@example.com", name="Ada"), CONTEXT)
    assert (user.id, user.version) == ("u1", 1)
    assert db.users["u1"].email == "ada@example.com"
    [message] = db.messages()
    assert message.event.event_type == "user.registered"
    assert (message.context.correlation_id, message.context.causation_id) == ("req-42", "req-42")
    assert sorted(db.deliveries_of(message.event.event_id)) == sorted(
        subscribers("user.registered")
    )
    assert all(d.status == "pending" for d in db.deliveries.values())


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com "])
def test_register_refuses_a_taken_email_case_insensitively(
    db: FakeDatabase, run: Run, user: User, email: str
) -> None:
    before = db.row_counts()
    with pytest.raises(EmailTaken):
        run(RegisterUser(user_id=new_id(), email=email, name="Imposter"))
    assert db.row_counts() == before


def test_register_refuses_invalid_input_without_writing(db: FakeDatabase, run: Run) -> None:
    with pytest.raises(InvalidCommand):
        run(RegisterUser(user_id="u1", email="not-an-email", name="Ada"))
    assert db.row_counts() == FakeDatabase().row_counts()


def test_create_order_for_an_existing_user(db: FakeDatabase, run: Run, user: User) -> None:
    items = (LineItem("book", 2, Decimal("12.50")),)
    order = run(CreateOrder(order_id="o1", user_id=user.id, items=items), CONTEXT)
    assert (order.id, order.total, order.version) == ("o1", Decimal("25.00"), 1)
    [message] = db.messages("order.created")
    assert message.event.total == Decimal("25.00")  # type: ignore[attr-defined]
    assert message.context.correlation_id == "req-42"


def test_create_order_for_an_unknown_user_is_not_found(db: FakeDatabase, run: Run) -> None:
    items = (LineItem("book", 1, Decimal("1")),)
    with pytest.raises(NotFound):
        run(CreateOrder(order_id="o1", user_id=MISSING, items=items))
    assert db.row_counts() == FakeDatabase().row_counts()


def test_create_order_without_items_is_invalid(db: FakeDatabase, run: Run, user: User) -> None:
    before = db.row_counts()
    with pytest.raises(InvalidCommand):
        run(CreateOrder(order_id="o1", user_id=user.id, items=()))
    assert db.row_counts() == before


def test_pay_ship_cancel_flow(db: FakeDatabase, run: Run, order: Order) -> None:
    paid = run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")), CONTEXT)
    assert (paid.status, paid.version) == ("paid", 2)
    shipped = run(ShipOrder(order_id=order.id), CONTEXT)
    assert (shipped.status, shipped.version) == ("shipped", 3)
    assert db.orders[order.id].status == "shipped"
    assert [m.event.event_type for m in db.messages() if m.event.aggregate_id == order.id] == [
        "order.created",
        "order.payment_processed",
        "order.shipped",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ProcessPayment(order_id=MISSING, amount=Decimal("1")),
        ShipOrder(order_id=MISSING),
        CancelOrder(order_id=MISSING, reason=""),
        AwardLoyaltyPoints(user_id=MISSING, order_id=MISSING, points=1),
        RevokeLoyaltyPoints(user_id=MISSING, order_id=MISSING),
    ],
    ids=lambda c: type(c).__name__,
)
def test_commands_on_unknown_aggregates_are_not_found(
    db: FakeDatabase, run: Run, order: Order, command: commands.Command
) -> None:
    before = db.row_counts()
    with pytest.raises(NotFound):
        run(command)
    assert db.row_counts() == before


def test_wrong_amount_is_invalid_and_writes_nothing(
    db: FakeDatabase, run: Run, order: Order
) -> None:
    before = db.row_counts()
    with pytest.raises(InvalidCommand) as refused:
        run(ProcessPayment(order_id=order.id, amount=Decimal("30.00")))
    assert refused.value.field == "amount"
    assert db.row_counts() == before
    assert db.orders[order.id].status == "created"


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ([], lambda o: ShipOrder(order_id=o)),
        (["pay"], lambda o: ProcessPayment(order_id=o, amount=Decimal("30.97"))),
        (["pay", "ship"], lambda o: CancelOrder(order_id=o, reason="late")),
        (["cancel"], lambda o: CancelOrder(order_id=o, reason="twice")),
        (["cancel"], lambda o: ProcessPayment(order_id=o, amount=Decimal("30.97"))),
    ],
    ids=["ship-created", "pay-paid", "cancel-shipped", "cancel-cancelled", "pay-cancelled"],
)
def test_wrong_state_is_an_invalid_transition_and_writes_nothing(
    db: FakeDatabase,
    run: Run,
    order: Order,
    setup: list[str],
    command: Callable[[str], commands.Command],
) -> None:
    steps = {
        "pay": ProcessPayment(order_id=order.id, amount=Decimal("30.97")),
        "ship": ShipOrder(order_id=order.id),
        "cancel": CancelOrder(order_id=order.id, reason=""),
    }
    for step in setup:
        run(steps[step])
    before = db.row_counts()
    with pytest.raises(InvalidTransition):
        run(command(order.id))
    assert db.row_counts() == before


def test_award_and_revoke_loyalty_points(db: FakeDatabase, run: Run, user: User) -> None:
    awarded = run(AwardLoyaltyPoints(user_id=user.id, order_id="o1", points=30), CONTEXT)
    again = run(AwardLoyaltyPoints(user_id=user.id, order_id="o1", points=30), CONTEXT)
    assert (awarded.loyalty_points, again.loyalty_points) == (30, 30)
    assert len(db.messages("user.loyalty_points_awarded")) == 1
    revoked = run(RevokeLoyaltyPoints(user_id=user.id, order_id="o1"), CONTEXT)
    run(RevokeLoyaltyPoints(user_id=user.id, order_id="o1"), CONTEXT)
    assert revoked.loyalty_points == 0
    assert len(db.messages("user.loyalty_points_revoked")) == 1
    assert db.users[user.id].loyalty_points == 0
    assert db.users[user.id].version == 3


def test_a_no_op_command_commits_no_event(db: FakeDatabase, run: Run, user: User) -> None:
    before = db.row_counts()
    run(RevokeLoyaltyPoints(user_id=user.id, order_id="never-awarded"))
    assert db.row_counts() == before


def test_concurrent_commands_on_one_aggregate_conflict_and_the_loser_writes_nothing(
    db: FakeDatabase, order: Order
) -> None:
    first, second = FakeUnitOfWork(db), FakeUnitOfWork(db)
    with first, second:
        command_handlers.handle(ProcessPayment(order_id=order.id, amount=Decimal("30.97")), first)
        command_handlers.handle(CancelOrder(order_id=order.id, reason="race"), second)
        first.commit(CONTEXT)
        before = db.row_counts()
        with pytest.raises(ConcurrencyConflict):
            second.commit(CONTEXT)
    assert db.row_counts() == before
    assert db.orders[order.id].status == "paid"
    assert [m.event.event_type for m in db.messages() if m.event.aggregate_id == order.id] == [
        "order.created",
        "order.payment_processed",
    ]


def test_a_stale_save_conflicts_at_once(db: FakeDatabase, run: Run, order: Order) -> None:
    with FakeUnitOfWork(db) as stale:
        loaded = stale.orders.get(order.id)
        assert loaded is not None
        run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
        loaded.cancel("too slow")
        with pytest.raises(ConcurrencyConflict):
            stale.orders.save(loaded)


def test_nothing_is_visible_before_commit_and_a_rollback_discards(
    db: FakeDatabase, order: Order
) -> None:
    before = db.row_counts()
    with FakeUnitOfWork(db) as uow:
        command_handlers.handle(CancelOrder(order_id=order.id, reason="x"), uow)
        with FakeUnitOfWork(db) as other:
            seen = other.orders.get(order.id)
            assert seen is not None and seen.status == "created"
        assert db.row_counts() == before
    assert db.row_counts() == before
    assert db.orders[order.id].status == "created"


def test_a_failing_handler_inside_execute_commits_nothing(db: FakeDatabase, user: User) -> None:
    """execute() runs the command and commits; an exception in between leaves no trace."""
    before = db.row_counts()
    uow = FakeUnitOfWork(db)
    with pytest.raises(NotFound):
        command_handlers.execute(
            CreateOrder(order_id="o1", user_id=MISSING, items=(LineItem("a", 1, Decimal(1)),)),
            uow,
            CONTEXT,
        )
    assert uow.rolled_back
    assert db.row_counts() == before


def test_answer_commits_the_reply_with_the_command(db: FakeDatabase, user: User) -> None:
    key = ClaimedKey("caller", "key-1", "claim-1")
    answered = command_handlers.answer(
        CreateOrder(order_id="o1", user_id=user.id, items=(LineItem("a", 1, Decimal(1)),)),
        FakeUnitOfWork(db),
        CONTEXT,
        lambda order: Reply(201, {"order_id": order.id}),
        key,
    )
    [created] = db.messages("order.created")
    assert sorted(answered.committed.delivery_ids) == sorted(
        d.delivery_id for d in db.deliveries_of(created.event.event_id).values()
    )
    assert len(answered.committed.delivery_ids) == len(subscribers("order.created"))
    assert answered.committed.position == db.events[-1].position
    assert db.replies == {("caller", "key-1"): Reply(201, {"order_id": "o1"})}
    assert answered.reply == Reply(201, {"order_id": "o1"})


def test_a_refused_command_keeps_no_reply(db: FakeDatabase) -> None:
    with pytest.raises(NotFound):
        command_handlers.answer(
            CreateOrder(order_id="o1", user_id=MISSING, items=(LineItem("a", 1, Decimal(1)),)),
            FakeUnitOfWork(db),
            CONTEXT,
            lambda order: Reply(201, {"order_id": order.id}),
            ClaimedKey("caller", "key-1", "claim-1"),
        )
    assert db.replies == {}
