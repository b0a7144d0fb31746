"""Command endpoints: validate, run one command, answer from the command's result."""

from typing import Any
from uuid import uuid4

from app.api import responses, schemas
from app.api.auth import Access
from app.api.context import container, request_context, resource_ids
from app.api.openapi import EVENT_POSITION, ApiBlueprint, links
from app.api.parsing import OPTIONAL_JSON
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

blueprint = ApiBlueprint(
    "commands",
    __name__,
    url_prefix="/api",
    access=Access.API,
    success_headers=[EVENT_POSITION],
    description="Commands: each changes state and records its events in one transaction.",
)

REFUSALS = {
    400: "the body is not valid JSON",
    413: "the body is larger than MAX_REQUEST_BYTES",
    415: "the body is not declared as application/json",
}


def _refusals(*extra: tuple[int, str]) -> Any:
    """``alt_response`` for the refusals every command can answer, plus ``extra``."""

    def decorate(view: Any) -> Any:
        for status, description in [*REFUSALS.items(), *extra]:
            view = blueprint.alt_response(
                status, schema=responses.ErrorSchema, description=description
            )(view)
        return view

    return decorate


USER_ID = {"user_id": "$response.body#/user_id"}
ORDER_ID = {"order_id": "$response.body#/order_id"}


def _run(command: Command) -> Any:
    return container().run_command(command, request_context())


def _order_status(order: Order) -> dict[str, str]:
    return {"order_id": order.id, "status": str(order.status)}


@blueprint.route("/users", methods=["POST"])
@blueprint.arguments(schemas.RegisterUserSchema)
@blueprint.response(201, responses.UserCreatedSchema)
@_refusals((409, "the email is taken"))
@blueprint.doc(
    **links(
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
)
def register_user(data: dict[str, Any]) -> dict[str, Any]:
    """Register a user"""
    user: User = _run(RegisterUser(user_id=str(uuid4()), email=data["email"], name=data["name"]))
    return {"user_id": user.id, "email": user.email, "name": user.name}


@blueprint.route("/orders", methods=["POST"])
@blueprint.arguments(schemas.CreateOrderSchema)
@blueprint.response(201, responses.OrderCreatedSchema)
@_refusals((404, "no such user"))
@blueprint.doc(
    **links(
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
)
def create_order(data: dict[str, Any]) -> dict[str, Any]:
    """Create an order for a user"""
    items = tuple(LineItem(i["sku"], i["quantity"], i["unit_price"]) for i in data["items"])
    order: Order = _run(
        CreateOrder(order_id=str(uuid4()), user_id=str(data["user_id"]), items=items)
    )
    return {"order_id": order.id, "status": str(order.status), "total": format_money(order.total)}


@blueprint.route("/orders/<order_id>/pay", methods=["POST"])
@resource_ids(order_id="order")
@blueprint.arguments(schemas.PayOrderSchema)
@blueprint.response(200, responses.OrderStatusSchema)
@_refusals((404, "no such order"), (409, "the order cannot be paid in its state"))
def pay_order(data: dict[str, Any], order_id: str) -> dict[str, str]:
    """Pay an order (the amount must be its total)"""
    return _order_status(_run(ProcessPayment(order_id=order_id, amount=data["amount"])))


@blueprint.route("/orders/<order_id>/ship", methods=["POST"])
@resource_ids(order_id="order")
@blueprint.arguments(schemas.ShipOrderSchema, location=OPTIONAL_JSON, required=False)
@blueprint.response(200, responses.OrderStatusSchema)
@_refusals((404, "no such order"), (409, "the order cannot be shipped in its state"))
def ship_order(data: dict[str, Any], order_id: str) -> dict[str, str]:
    """Ship a paid order (the body may be empty)"""
    return _order_status(_run(ShipOrder(order_id=order_id)))


@blueprint.route("/orders/<order_id>/cancel", methods=["POST"])
@resource_ids(order_id="order")
@blueprint.arguments(schemas.CancelOrderSchema, location=OPTIONAL_JSON, required=False)
@blueprint.response(200, responses.OrderStatusSchema)
@_refusals((404, "no such order"), (409, "the order cannot be cancelled in its state"))
def cancel_order(data: dict[str, Any], order_id: str) -> dict[str, str]:
    """Cancel an order that has not shipped (the body may be empty)"""
    return _order_status(_run(CancelOrder(order_id=order_id, reason=data["reason"])))
