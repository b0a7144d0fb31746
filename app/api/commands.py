"""Command endpoints: validate, run one command, answer from the command's result."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from flask import Blueprint, Response, jsonify

from app.api import idempotency, schemas
from app.api.context import container, request_context, resource_id
from app.api.requests import load_json
from app.domain.commands import (
    CancelOrder,
    Command,
    CreateOrder,
    ProcessPayment,
    RegisterUser,
    ShipOrder,
)
from app.domain.events import LineItem
from app.domain.models import Order, User
from app.domain.money import format_money
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork

blueprint = Blueprint("commands", __name__, url_prefix="/api")
idempotency.install(blueprint)


Reply = tuple[dict[str, Any], int]


def _run(command: Command, reply: Callable[[Any], Reply]) -> Response:
    """Run the command; its reply is built (and, with a key, stored) inside its transaction."""
    built: list[tuple[SqlUnitOfWork, Reply]] = []

    def before_commit(uow: SqlUnitOfWork, result: Any) -> None:
        body, status = reply(result)
        idempotency.stage_reply(uow, status, body)
        built.append((uow, (body, status)))

    container().run_command(command, request_context(), before_commit)
    uow, (body, status) = built[0]
    response = jsonify(body)
    response.status_code = status
    if uow.committed_position is not None:
        response.headers[idempotency.EVENT_POSITION] = str(uow.committed_position)
    return response


def _order_status(order: Order) -> Reply:
    return {"order_id": order.id, "status": str(order.status)}, 200


def _created_user(user: User) -> Reply:
    return {"user_id": user.id, "email": user.email, "name": user.name}, 201


def _created_order(order: Order) -> Reply:
    body = {"order_id": order.id, "status": str(order.status), "total": format_money(order.total)}
    return body, 201


@blueprint.post("/users")
def register_user() -> Response:
    data = load_json(schemas.RegisterUserSchema())
    command = RegisterUser(user_id=str(uuid4()), email=data["email"], name=data["name"])
    return _run(command, _created_user)


@blueprint.post("/orders")
def create_order() -> Response:
    data = load_json(schemas.CreateOrderSchema())
    items = tuple(LineItem(i["sku"], i["quantity"], i["unit_price"]) for i in data["items"])
    command = CreateOrder(
        order_id=str(uuid4()),
        user_id=str(data["user_id"]),
        items=items,
        currency=data["currency"],
    )
    return _run(command, _created_order)


@blueprint.post("/orders/<order_id>/pay")
def pay_order(order_id: str) -> Response:
    order_id = resource_id(order_id, "order")
    data = load_json(schemas.PayOrderSchema())
    return _run(ProcessPayment(order_id=order_id, amount=data["amount"]), _order_status)


@blueprint.post("/orders/<order_id>/ship")
def ship_order(order_id: str) -> Response:
    order_id = resource_id(order_id, "order")
    load_json(schemas.ShipOrderSchema(), body_optional=True)
    return _run(ShipOrder(order_id=order_id), _order_status)


@blueprint.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> Response:
    order_id = resource_id(order_id, "order")
    data = load_json(schemas.CancelOrderSchema(), body_optional=True)
    return _run(CancelOrder(order_id=order_id, reason=data["reason"]), _order_status)
