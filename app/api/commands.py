"""Command endpoints: validate, run one command, answer from the command's result."""

from typing import Any
from uuid import uuid4

from flask import Blueprint, Response, jsonify

from app.api import schemas
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

blueprint = Blueprint("commands", __name__, url_prefix="/api")


def _run(command: Command) -> Any:
    return container().run_command(command, request_context())


def _order_status(order: Order, status: int = 200) -> tuple[Response, int]:
    return jsonify({"order_id": order.id, "status": str(order.status)}), status


@blueprint.post("/users")
def register_user() -> tuple[Response, int]:
    data = load_json(schemas.RegisterUserSchema())
    user: User = _run(RegisterUser(user_id=str(uuid4()), email=data["email"], name=data["name"]))
    return jsonify({"user_id": user.id, "email": user.email, "name": user.name}), 201


@blueprint.post("/orders")
def create_order() -> tuple[Response, int]:
    data = load_json(schemas.CreateOrderSchema())
    items = tuple(LineItem(i["sku"], i["quantity"], i["unit_price"]) for i in data["items"])
    order: Order = _run(
        CreateOrder(
            order_id=str(uuid4()),
            user_id=str(data["user_id"]),
            items=items,
            currency=data["currency"],
        )
    )
    body = {"order_id": order.id, "status": str(order.status), "total": format_money(order.total)}
    return jsonify(body), 201


@blueprint.post("/orders/<order_id>/pay")
def pay_order(order_id: str) -> tuple[Response, int]:
    order_id = resource_id(order_id, "order")
    data = load_json(schemas.PayOrderSchema())
    return _order_status(_run(ProcessPayment(order_id=order_id, amount=data["amount"])))


@blueprint.post("/orders/<order_id>/ship")
def ship_order(order_id: str) -> tuple[Response, int]:
    order_id = resource_id(order_id, "order")
    load_json(schemas.ShipOrderSchema(), body_optional=True)
    return _order_status(_run(ShipOrder(order_id=order_id)))


@blueprint.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> tuple[Response, int]:
    order_id = resource_id(order_id, "order")
    data = load_json(schemas.CancelOrderSchema(), body_optional=True)
    return _order_status(_run(CancelOrder(order_id=order_id, reason=data["reason"])))
