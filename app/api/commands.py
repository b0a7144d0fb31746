"""Command endpoints: validate, run one command, answer from the command's result."""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import uuid4

from flask import Response, jsonify
from marshmallow import Schema

from app.api import idempotency, responses, schemas
from app.api.auth import Access
from app.api.context import rule_ids
from app.api.correlation import request_context
from app.api.openapi import EVENT_POSITION, IDEMPOTENT_REPLAYED, ApiBlueprint, links
from app.api.parsing import OPTIONAL_JSON
from app.application import command_handlers
from app.application.ports import Reply
from app.container import container_of
from app.domain.commands import (
    CancelOrder,
    Command,
    CreateOrder,
    ProcessPayment,
    RegisterUser,
    ShipOrder,
)
from app.domain.errors import ConcurrencyConflict
from app.domain.events import LineItem
from app.domain.models import Order, User
from app.domain.money import format_money

blueprint = ApiBlueprint(
    "commands",
    __name__,
    url_prefix="/api",
    access=Access.API,
    success_headers=[EVENT_POSITION],
    answer_headers=[IDEMPOTENT_REPLAYED],
    description="Commands: each changes state and records its events in one transaction.",
)
idempotency.install(blueprint)

View = TypeVar("View", bound=Callable[..., Response])

REFUSALS = {
    400: "the body is not valid JSON",
    409: "idempotency_key_in_flight: the first request with this Idempotency-Key still runs",
    413: "the body is larger than MAX_REQUEST_BYTES",
    415: "the body is not declared as application/json",
}


def _command(
    rule: str,
    body: type[Schema],
    reply: tuple[int, type[Schema]],
    *,
    body_optional: bool = False,
) -> Callable[[View], View]:
    """A command endpoint: a POST route, its path ids (checked before the body is read),
    the body and the reply schemas."""
    location, required = (OPTIONAL_JSON, False) if body_optional else ("json", True)

    def decorate(view: View) -> View:
        view = blueprint.response(*reply)(view)
        view = rule_ids(rule)(blueprint.arguments(body, location=location, required=required)(view))
        return blueprint.route(rule, methods=["POST"])(view)

    return decorate


def _refusals(*extra: tuple[int, str]) -> Callable[[View], View]:
    """``alt_response`` for the refusals every command can answer, plus ``extra`` (a status
    both name is documented with both descriptions)."""
    refusals = dict(REFUSALS)
    for status, description in extra:
        refusals[status] = (
            f"{description}; or {refusals[status]}" if status in refusals else description
        )

    def decorate(view: View) -> View:
        for status, description in refusals.items():
            view = blueprint.alt_response(
                status, schema=responses.ErrorSchema, description=description
            )(view)
        return view

    return decorate


USER_ID = {"user_id": "$response.body#/user_id"}
ORDER_ID = {"order_id": "$response.body#/order_id"}


def _run(command: Command, reply_to: Callable[[Any], Reply]) -> Response:
    """Run the command; its reply is built (and, with a key, kept) inside its transaction.

    Returns the finished response, so ``@blueprint.response`` documents it without dumping.
    """
    idempotency.command_runs()
    try:
        answered = command_handlers.answer(
            command,
            container_of().uow(),
            request_context(),
            reply_to,
            idempotency.claimed_key(),
        )
    except ConcurrencyConflict:
        idempotency.retry_may_succeed()
        raise
    response = jsonify(answered.reply.body)
    response.status_code = answered.reply.status_code
    if answered.committed.position is not None:
        response.headers[idempotency.EVENT_POSITION] = str(answered.committed.position)
    return response


def _order_status(order: Order) -> Reply:
    return Reply(200, {"order_id": order.id, "status": str(order.status)})


def _created_user(user: User) -> Reply:
    return Reply(201, {"user_id": user.id, "email": user.email, "name": user.name})


def _created_order(order: Order) -> Reply:
    body = {"order_id": order.id, "status": str(order.status), "total": format_money(order.total)}
    return Reply(201, body)


REGISTERED_LEADS_TO = links(
    201,
    GetUser={"operationId": "get_user", "parameters": USER_ID},
    ListUserOrders={"operationId": "list_user_orders", "parameters": USER_ID},
    CreateOrder={
        "operationId": "create_order",
        "requestBody": {
            "user_id": "$response.body#/user_id",
            "items": [{"sku": "book", "quantity": 2, "unit_price": "12.50"}],
        },
    },
)
CREATED_LEADS_TO = links(
    201,
    GetOrder={"operationId": "get_order", "parameters": ORDER_ID},
    PayOrder={
        "operationId": "pay_order",
        "parameters": ORDER_ID,
        "requestBody": {"amount": "$response.body#/total"},
    },
    ShipOrder={"operationId": "ship_order", "parameters": ORDER_ID},
    CancelOrder={"operationId": "cancel_order", "parameters": ORDER_ID},
)


@_command("/users", schemas.RegisterUserSchema, (201, responses.UserCreatedSchema))
@_refusals((409, "the email is taken"))
@blueprint.doc(**REGISTERED_LEADS_TO)
def register_user(data: schemas.RegisterUserBody) -> Response:
    """Register a user"""
    command = RegisterUser(user_id=str(uuid4()), email=data["email"], name=data["name"])
    return _run(command, _created_user)


@_command("/orders", schemas.CreateOrderSchema, (201, responses.OrderCreatedSchema))
@_refusals((404, "no such user"))
@blueprint.doc(**CREATED_LEADS_TO)
def create_order(data: schemas.CreateOrderBody) -> Response:
    """Create an order for a user"""
    items = tuple(LineItem(i["sku"], i["quantity"], i["unit_price"]) for i in data["items"])
    command = CreateOrder(
        order_id=str(uuid4()),
        user_id=str(data["user_id"]),
        items=items,
        currency=data["currency"],
    )
    return _run(command, _created_order)


@_command("/orders/<order_id>/pay", schemas.PayOrderSchema, (200, responses.OrderStatusSchema))
@_refusals((404, "no such order"), (409, "the order cannot be paid in its state"))
def pay_order(data: schemas.PayOrderBody, order_id: str) -> Response:
    """Pay an order (the amount must be its total)"""
    return _run(ProcessPayment(order_id=order_id, amount=data["amount"]), _order_status)


@_command(
    "/orders/<order_id>/ship",
    schemas.ShipOrderSchema,
    (200, responses.OrderStatusSchema),
    body_optional=True,
)
@_refusals((404, "no such order"), (409, "the order cannot be shipped in its state"))
def ship_order(data: Mapping[str, object], order_id: str) -> Response:
    """Ship a paid order (the body may be empty)"""
    return _run(ShipOrder(order_id=order_id), _order_status)


@_command(
    "/orders/<order_id>/cancel",
    schemas.CancelOrderSchema,
    (200, responses.OrderStatusSchema),
    body_optional=True,
)
@_refusals((404, "no such order"), (409, "the order cannot be cancelled in its state"))
def cancel_order(data: schemas.CancelOrderBody, order_id: str) -> Response:
    """Cancel an order that has not shipped (the body may be empty)"""
    return _run(CancelOrder(order_id=order_id, reason=data["reason"]), _order_status)
