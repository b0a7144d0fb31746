from app.application.ports import UnitOfWork
from app.domain.commands import CancelOrder, CreateOrder, ProcessPayment, ShipOrder
from app.domain.errors import NotFound
from app.domain.models import Order


def _existing_order(uow: UnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


def create_order(command: CreateOrder, uow: UnitOfWork) -> Order:
    if not uow.users.exists(command.user_id):
        raise NotFound(f"user {command.user_id} does not exist")
    order = Order.create(command.order_id, command.user_id, command.items, command.currency)
    uow.orders.add(order)
    return order


def process_payment(command: ProcessPayment, uow: UnitOfWork) -> Order:
    order = _existing_order(uow, command.order_id)
    order.pay(command.amount)
    uow.orders.save(order)
    return order


def ship_order(command: ShipOrder, uow: UnitOfWork) -> Order:
    order = _existing_order(uow, command.order_id)
    order.ship()
    uow.orders.save(order)
    return order


def cancel_order(command: CancelOrder, uow: UnitOfWork) -> Order:
    order = _existing_order(uow, command.order_id)
    order.cancel(command.reason)
    uow.orders.save(order)
    return order
