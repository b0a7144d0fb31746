"""Command handlers: plain functions ``verb_noun(command, uow)``, listed in one dict.

They change aggregates through the unit of work and never commit: the caller owns the
transaction, so a reaction's command and its handler receipt commit together.
"""

from collections.abc import Callable
from typing import Any

from app.application.command_handlers.loyalty import award_loyalty_points, revoke_loyalty_points
from app.application.command_handlers.orders import (
    cancel_order,
    create_order,
    process_payment,
    ship_order,
)
from app.application.command_handlers.users import register_user
from app.application.messages import MessageContext
from app.application.ports import UnitOfWork
from app.domain import commands

COMMAND_HANDLERS: dict[type[commands.Command], Callable[[Any, UnitOfWork], Any]] = {
    commands.RegisterUser: register_user,
    commands.CreateOrder: create_order,
    commands.ProcessPayment: process_payment,
    commands.ShipOrder: ship_order,
    commands.CancelOrder: cancel_order,
    commands.AwardLoyaltyPoints: award_loyalty_points,
    commands.RevokeLoyaltyPoints: revoke_loyalty_points,
}


def handle(command: commands.Command, uow: UnitOfWork) -> Any:
    """Run one command inside an open unit of work, without committing."""
    return COMMAND_HANDLERS[type(command)](command, uow)


def execute(
    command: commands.Command,
    uow: UnitOfWork,
    context: MessageContext,
    before_commit: Callable[[Any], None] | None = None,
) -> Any:
    """Run one command in its own transaction and commit it; returns the handler's result.

    Its events are stored with ``context``, the trace of whoever issued the command.
    ``before_commit(result)`` runs inside the transaction, after the handler succeeded: what
    it writes through the unit of work commits with the command or not at all. After this
    returns, ``uow.committed_delivery_ids`` lists the outbox rows just written and
    ``uow.committed_position`` the last event's global position.
    """
    with uow:
        result = handle(command, uow)
        if before_commit is not None:
            before_commit(result)
        uow.commit(context)
    return result


__all__ = ["COMMAND_HANDLERS", "execute", "handle"]
