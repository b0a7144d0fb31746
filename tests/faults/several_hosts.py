"""Driving several hosts' webs over real HTTP, as a client behind a load balancer would.

``Commands`` sends each command with an ``Idempotency-Key`` of its own to the webs in turn;
a web that does not answer (its host is down) gets the same command, same key, retried on
the next one, so a command is applied once whichever host took it. ``Orders`` is the
workload: users, orders for them, every other order paid. ``maildir_keys`` reads what the
hosts' maildirs received (each host has its own instance directory).
"""

import itertools
import mailbox
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 10.0


class NoWebAnswered(AssertionError):
    """Every web refused the connection or timed out."""


@dataclass
class Commands:
    webs: Sequence[str]
    """Base URLs, one per host."""
    key_prefix: str = "cmd"
    sent: int = 0
    retried_elsewhere: int = 0
    answered_by: Counter[str] = field(default_factory=Counter)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def post(self, path: str, body: dict[str, Any], expect: int) -> dict[str, Any]:
        key = f"{self.key_prefix}-{next(self._numbers)}"
        first = self.sent % len(self.webs)
        self.sent += 1
        for web in [*self.webs[first:], *self.webs[:first]]:
            try:
                response = requests.post(
                    f"{web}{path}", json=body, headers={"Idempotency-Key": key}, timeout=TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout):
                self.retried_elsewhere += 1
                continue
            assert response.status_code == expect, (
                f"POST {web}{path} answered {response.status_code}: {response.text[:500]}"
            )
            self.answered_by[web] += 1
            data: dict[str, Any] = response.json()
            return data
        raise NoWebAnswered(f"no web answered POST {path} (key {key})")


@dataclass
class Orders:
    """Users, then orders placed round-robin among them; every other order is paid."""

    users: list[str] = field(default_factory=list)
    orders: list[tuple[str, Decimal]] = field(default_factory=list)
    paid: int = 0

    def register(self, commands: Commands, count: int, tag: str) -> None:
        for n in range(count):
            body = {"email": f"{tag}-{n}@example.com", "name": f"{tag} {n}"}
            self.users.append(commands.post("/api/users", body, 201)["user_id"])

    def place(self, commands: Commands, count: int) -> None:
        """``count`` orders, each paid right after it is created when its number is even."""
        for _ in range(count):
            n = len(self.orders)
            items = [{"sku": f"SKU-{n:03d}", "quantity": 1 + n % 3, "unit_price": "9.50"}]
            body = {"user_id": self.users[n % len(self.users)], "items": items}
            created = commands.post("/api/orders", body, 201)
            order = (created["order_id"], Decimal(created["total"]))
            self.orders.append(order)
            if n % 2 == 0:
                paid = {"amount": str(order[1])}
                commands.post(f"/api/orders/{order[0]}/pay", paid, 200)
                self.paid += 1


def maildir_keys(maildirs: Iterable[Path]) -> Counter[str]:
    """``X-Idempotency-Key`` of every message in any of ``maildirs`` (missing ones are empty)."""
    keys: Counter[str] = Counter()
    for directory in maildirs:
        if not directory.exists():
            continue
        for message in mailbox.Maildir(directory, factory=None, create=False):
            keys["".join(str(message["X-Idempotency-Key"]).split())] += 1
    return keys


class ReadinessWatch:
    """Asks ``web``'s ``/readyz`` every ``interval`` seconds in a thread, keeping each status."""

    def __init__(self, web: str, interval: float = 0.25) -> None:
        self._url = f"{web}/readyz"
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def __enter__(self) -> "ReadinessWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = requests.get(self._url, timeout=TIMEOUT)
            except requests.RequestException as exc:
                self.statuses[0] += 1
                self.failures.append(repr(exc))
            else:
                self.statuses[response.status_code] += 1
                if response.status_code != 200:
                    self.failures.append(response.text[:300])
            self._stop.wait(self._interval)
