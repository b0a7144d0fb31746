"""A deterministic users-and-orders workload, driven over HTTP, with its expected outcome.

The expectations are computed here, independently of the application, from what was
sent: statuses, versions, totals, loyalty points (one per whole unit of every paid order
that was not cancelled) and the emails each step should cause. Fault-injection tests can
drive the phases one by one and interrupt the infrastructure in between.
"""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

CENT = Decimal("0.01")
CORRELATION_HEADER = "X-Correlation-ID"


@dataclass
class PlannedUser:
    index: int
    email: str
    name: str
    user_id: str = ""


@dataclass
class PlannedOrder:
    index: int
    user: int
    items: list[dict[str, Any]]
    """Line items exactly as sent (unit prices as strings, ints or floats)."""
    total: Decimal
    pay: bool
    ship: bool
    cancel: bool
    order_id: str = ""
    correlation_ids: dict[str, str] = field(default_factory=dict)
    """Command (``create``, ``pay``, ``ship``, ``cancel``) → the X-Correlation-ID sent."""

    @property
    def status(self) -> str:
        if self.cancel:
            return "cancelled"
        if self.ship:
            return "shipped"
        return "paid" if self.pay else "created"

    @property
    def version(self) -> int:
        return 1 + self.pay + self.ship + self.cancel

    @property
    def spends(self) -> bool:
        """Counts towards total_spent and loyalty: paid and not cancelled."""
        return self.pay and not self.cancel

    @property
    def points(self) -> int:
        return int(self.total) if self.spends else 0

    def expected_items(self) -> list[dict[str, Any]]:
        return [
            {
                "sku": item["sku"],
                "quantity": item["quantity"],
                "unit_price": str(Decimal(str(item["unit_price"])).quantize(CENT)),
            }
            for item in self.items
        ]


@dataclass
class Workload:
    run: str
    users: list[PlannedUser]
    orders: list[PlannedOrder]

    @classmethod
    def generate(cls, *, users: int = 10, orders: int = 50, seed: int = 20261127) -> "Workload":
        """Most orders paid, some shipped, some cancelled after payment, some before."""
        rng = random.Random(seed)
        run = uuid.uuid4().hex[:8]
        planned_users = [
            PlannedUser(i, f"user{i}.{run}@example.com", f"User {i}") for i in range(users)
        ]
        planned_orders = []
        for i in range(orders):
            items = [_line_item(rng, n) for n in range(rng.randint(1, 3))]
            total = sum(
                (Decimal(str(it["unit_price"])) * it["quantity"] for it in items), Decimal(0)
            ).quantize(CENT)
            pay = i % 5 != 4
            ship = pay and i % 3 == 0
            cancel = (pay and not ship and i % 4 == 1) or (not pay and i % 2 == 0)
            planned_orders.append(PlannedOrder(i, i % users, items, total, pay, ship, cancel))
        return cls(run, planned_users, planned_orders)

    def correlation_id(self, command: str, index: int) -> str:
        return f"of-{self.run}-{command}-{index}"

    def user_orders(self, user: PlannedUser) -> list[PlannedOrder]:
        return [o for o in self.orders if o.user == user.index]

    def expected_profile(self, user: PlannedUser) -> dict[str, Any]:
        mine = self.user_orders(user)
        spent = sum((o.total for o in mine if o.spends), Decimal(0)).quantize(CENT)
        return {
            "user_id": user.user_id,
            "email": user.email,
            "name": user.name,
            "order_count": len(mine),
            "total_spent": str(spent),
            "loyalty_points": sum(o.points for o in mine),
        }

    def expected_summary(self, order: PlannedOrder) -> dict[str, Any]:
        return {
            "order_id": order.order_id,
            "user_id": self.users[order.user].user_id,
            "status": order.status,
            "total": str(order.total),
            "items": order.expected_items(),
            "version": order.version,
            "currency": "EUR",
        }

    def expected_emails(self) -> Counter[str]:
        """Email kind → count: welcome, confirmation, receipt, shipping, cancellation."""
        return Counter(
            {
                "welcome": len(self.users),
                "confirmation": len(self.orders),
                "receipt": sum(o.pay for o in self.orders),
                "shipping": sum(o.ship for o in self.orders),
                "cancellation": sum(o.cancel for o in self.orders),
            }
        )

    def expected_event_counts(self) -> Counter[str]:
        """Events every run must store (loyalty events depend on timing for cancelled orders)."""
        return Counter(
            {
                "user.registered": len(self.users),
                "order.created": len(self.orders),
                "order.payment_processed": sum(o.pay for o in self.orders),
                "order.shipped": sum(o.ship for o in self.orders),
                "order.cancelled": sum(o.cancel for o in self.orders),
            }
        )


def _line_item(rng: random.Random, n: int) -> dict[str, Any]:
    cents = rng.choice([0, rng.randint(1, 99), rng.randint(100, 25000), rng.randint(1, 90) * 100])
    price: Any = f"{Decimal(cents) / 100:.2f}"
    if n == 1:
        price = cents // 100 if cents % 100 == 0 else cents / 100
    return {
        "sku": f"SKU-{rng.randrange(1000):03d}",
        "quantity": rng.randint(1, 5),
        "unit_price": price,
    }


def _post(
    client: FlaskClient, path: str, body: dict[str, Any], expect: int, correlation_id: str = ""
) -> dict[str, Any]:
    headers = {CORRELATION_HEADER: correlation_id} if correlation_id else {}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == expect, (
        f"POST {path} {body} answered {response.status_code}, expected {expect}: "
        f"{response.get_data(as_text=True)}"
    )
    if correlation_id:
        assert response.headers[CORRELATION_HEADER] == correlation_id
    data: dict[str, Any] = response.get_json()
    return data


def register_users(client: FlaskClient, workload: Workload) -> None:
    for user in workload.users:
        body = {"email": user.email, "name": user.name}
        user.user_id = _post(client, "/api/users", body, 201)["user_id"]


def create_orders(client: FlaskClient, workload: Workload) -> None:
    for order in workload.orders:
        cid = order.correlation_ids["create"] = workload.correlation_id("create", order.index)
        body = {"user_id": workload.users[order.user].user_id, "items": order.items}
        created = _post(client, "/api/orders", body, 201, cid)
        assert created["status"] == "created" and created["total"] == str(order.total), created
        order.order_id = created["order_id"]


def pay_orders(client: FlaskClient, workload: Workload) -> None:
    for order in (o for o in workload.orders if o.pay):
        cid = order.correlation_ids["pay"] = workload.correlation_id("pay", order.index)
        amount: Any = str(order.total) if order.index % 2 else float(order.total)
        paid = _post(client, f"/api/orders/{order.order_id}/pay", {"amount": amount}, 200, cid)
        assert paid == {"order_id": order.order_id, "status": "paid"}


def ship_orders(client: FlaskClient, workload: Workload) -> None:
    for order in (o for o in workload.orders if o.ship):
        cid = order.correlation_ids["ship"] = workload.correlation_id("ship", order.index)
        _post(client, f"/api/orders/{order.order_id}/ship", {}, 200, cid)


def cancel_orders(client: FlaskClient, workload: Workload) -> None:
    for order in (o for o in workload.orders if o.cancel):
        cid = order.correlation_ids["cancel"] = workload.correlation_id("cancel", order.index)
        body = {"reason": f"changed my mind about {order.index}"}
        _post(client, f"/api/orders/{order.order_id}/cancel", body, 200, cid)


def send_refused_commands(client: FlaskClient, workload: Workload) -> None:
    """Commands the domain refuses; they must change nothing (the expectations ignore them)."""
    unpaid = next(o for o in workload.orders if not o.pay and not o.cancel)
    shipped = next(o for o in workload.orders if o.ship)
    paid = next(o for o in workload.orders if o.spends and not o.ship)
    wrong = str(unpaid.total + 1)
    _post(client, f"/api/orders/{unpaid.order_id}/pay", {"amount": wrong}, 422)
    _post(client, f"/api/orders/{unpaid.order_id}/ship", {}, 409)
    _post(client, f"/api/orders/{shipped.order_id}/cancel", {"reason": "too late"}, 409)
    _post(client, f"/api/orders/{paid.order_id}/pay", {"amount": str(paid.total)}, 409)
    _post(client, "/api/users", {"email": workload.users[0].email.upper(), "name": "Dup"}, 409)


def drive(client: FlaskClient, workload: Workload) -> None:
    """Every phase in order: register, create, pay, ship, cancel, then refused commands."""
    register_users(client, workload)
    create_orders(client, workload)
    pay_orders(client, workload)
    ship_orders(client, workload)
    cancel_orders(client, workload)
    send_refused_commands(client, workload)


def assert_queries_match(client: FlaskClient, workload: Workload) -> None:
    """GET every order and user and compare with the independently computed expectation."""
    for order in workload.orders:
        response = client.get(f"/api/orders/{order.order_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json() == workload.expected_summary(order), f"order #{order.index}"
    for user in workload.users:
        response = client.get(f"/api/users/{user.user_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json() == workload.expected_profile(user), f"user #{user.index}"
        listed = client.get(f"/api/users/{user.user_id}/orders").get_json()
        assert sorted(o["order_id"] for o in listed) == sorted(
            o.order_id for o in workload.user_orders(user)
        )
