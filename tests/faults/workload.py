"""The shared workload's phases, without the refused commands (small runs lack the cases)."""

from flask.testing import FlaskClient

from tests.support.workload import (
    Workload,
    cancel_orders,
    create_orders,
    pay_orders,
    register_users,
    ship_orders,
)

PHASES = (register_users, create_orders, pay_orders, ship_orders, cancel_orders)


def drive_all(client: FlaskClient, workload: Workload) -> int:
    """Send every accepted command of ``workload``; returns how many commands that was."""
    for phase in PHASES:
        phase(client, workload)
    return command_count(workload)


def command_count(workload: Workload) -> int:
    orders = workload.orders
    return (
        len(workload.users)
        + len(orders)
        + sum(o.pay for o in orders)
        + sum(o.ship for o in orders)
        + sum(o.cancel for o in orders)
    )
