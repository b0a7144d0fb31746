"""Command handlers: plain functions ``verb_noun(command, uow)``, listed in one dict.

They change aggregates through the unit of work and never commit: the caller owns the
transaction, so a reaction's command and its handler receipt commit together. ``execute``
and ``answer`` are the application services the entry points call: one command, one commit.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from app.application.messages import MessageContext
from app.application.ports import ClaimedKey, Committed, Reply, UnitOfWork
from app.domain import commands
from app.domain.errors import EmailTaken, NotFound
from app.domain.models import Order, User, normalize_email

A = TypeVar("A")
Changed = User | Order
"""The aggregate a command handler created or changed: what it returns."""


class _Aggregates(Protocol[A]):
    def get(self, aggregate_id: str, /) -> A | None: ...

    def save(self, aggregate: A, /) -> None: ...


def _change(
    aggregates: _Aggregates[A], kind: str, aggregate_id: str, change: Callable[[A], Any]
) -> A:
    """Load one aggregate (``NotFound`` when there is none), apply ``change`` and save it."""
    aggregate = aggregates.get(aggregate_id)
    if aggregate is None:
        raise NotFound(f"{kind} {aggregate_id} does not exist")
    change(aggregate)
    aggregates.save(aggregate)
    return aggregate


def register_user(command: commands.RegisterUser, uow: UnitOfWork) -> User:
    if uow.users.get_by_email(normalize_email(command.email)) is not None:
        raise EmailTaken("this email address is already registered")
    user = User.register(command.user_id, command.email, command.name)
    uow.users.add(user)
    return user


def create_order(command: commands.CreateOrder, uow: UnitOfWork) -> Order:
    if not uow.users.exists(command.user_id):
        raise NotFound(f"user {command.user_id} does not exist")
    order = Order.create(command.order_id, command.user_id, command.items, command.currency)
    uow.orders.add(order)
    return order


def process_payment(command: commands.ProcessPayment, uow: UnitOfWork) -> Order:
    return _change(uow.orders, "order", command.order_id, lambda o: o.pay(command.amount))


def ship_order(command: commands.ShipOrder, uow: UnitOfWork) -> Order:
    return _change(uow.orders, "order", command.order_id, lambda o: o.ship())


def cancel_order(command: commands.CancelOrder, uow: UnitOfWork) -> Order:
    return _change(uow.orders, "order", command.order_id, lambda o: o.cancel(command.reason))


def award_loyalty_points(command: commands.AwardLoyaltyPoints, uow: UnitOfWork) -> User:
    return _change(
        uow.users,
        "user",
        command.user_id,
        lambda u: u.award_points(command.order_id, command.points),
    )


def revoke_loyalty_points(command: commands.RevokeLoyaltyPoints, uow: UnitOfWork) -> User:
    return _change(uow.users, "user", command.user_id, lambda u: u.revoke_points(command.order_id))


COMMAND_HANDLERS: dict[type[commands.Command], Callable[[Any, UnitOfWork], Changed]] = {
    commands.RegisterUser: register_user,
    commands.CreateOrder: create_order,
    commands.ProcessPayment: process_payment,
    commands.ShipOrder: ship_order,
    commands.CancelOrder: cancel_order,
    commands.AwardLoyaltyPoints: award_loyalty_points,
    commands.RevokeLoyaltyPoints: revoke_loyalty_points,
}


def handle(command: commands.Command, uow: UnitOfWork) -> Changed:
    """Run one command inside an open unit of work, without committing."""
    return COMMAND_HANDLERS[type(command)](command, uow)


def execute(command: commands.Command, uow: UnitOfWork, context: MessageContext) -> Changed:
    """Run one command in its own transaction and commit it; returns the handler's result.

    Its events are stored with ``context``, the trace of whoever issued the command.
    """
    with uow:
        result = handle(command, uow)
        uow.commit(context)
    return result


@dataclass(frozen=True)
class Answered:
    reply: Reply
    committed: Committed


def answer(
    command: commands.Command,
    uow: UnitOfWork,
    context: MessageContext,
    reply_to: Callable[[Any], Reply],
    key: ClaimedKey | None = None,
) -> Answered:
    """``execute`` for a caller that waits for a reply: ``reply_to(result)`` builds it
    inside the transaction and, with an idempotency ``key``, it is kept in that same
    commit, so a command that committed always has its reply stored for a repeat."""
    with uow:
        reply = reply_to(handle(command, uow))
        if key is not None:
            uow.replies.keep(key, reply)
        committed = uow.commit(context)
    return Answered(reply, committed)
