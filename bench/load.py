"""The load client: Python threads, one ``http.client`` connection each (kept alive when the
server allows; gunicorn's sync workers close after every response, so it reconnects).

The same client drives the bare endpoint and the product, so their ratio compares servers,
not clients. It shares the machine's cores with the servers, the broker and PostgreSQL.
"""

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.namespace import HOST

Request = tuple[str, dict[str, Any]]
"""(path, JSON body) of one POST."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    sent_at: float
    """time.time() when the request was due (open loop) or sent (closed loop)."""
    answered_at: float


class Client:
    """One connection; ``post`` never raises on HTTP errors (status 0: no answer)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self._conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def post(self, path: str, body: dict[str, Any], due: float | None = None) -> Answer:
        sent = time.time()
        payload = json.dumps(body)
        headers = {"Content-Type": "application/json"}
        try:
            self._conn.request("POST", path, body=payload, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
            status = response.status
        except (http.client.HTTPException, OSError):
            self._conn.close()
            return Answer(0, {}, due or sent, time.time())
        answered = time.time()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return Answer(status, data if isinstance(data, dict) else {}, due or sent, answered)

    def close(self) -> None:
        self._conn.close()


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def ok(self) -> list[Answer]:
        return [a for a in self.answers if 200 <= a.status < 300]

    @property
    def errors(self) -> int:
        return len(self.answers) - len(self.ok)

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)

    @property
    def ok_per_second(self) -> float:
        return len(self.ok) / self.seconds

    def latencies_ms(self) -> list[float]:
        return [(a.answered_at - a.sent_at) * 1000 for a in self.ok]


def closed_loop(
    port: int, request: Callable[[], Request], *, clients: int, seconds: float, limit: int
) -> LoadResult:
    """``clients`` threads each send the next request as soon as the last one is answered,
    for ``seconds`` or until ``limit`` requests were sent, whichever comes first."""
    result = LoadResult()
    lock = threading.Lock()
    sent = 0

    def client_loop(deadline: float) -> None:
        nonlocal sent
        client = Client(port)
        try:
            while time.time() < deadline:
                with lock:
                    if sent >= limit:
                        return
                    sent += 1
                path, body = request()
                answer = client.post(path, body)
                with lock:
                    result.answers.append(answer)
        finally:
            client.close()

    result.started = time.time()
    threads = [
        threading.Thread(target=client_loop, args=(result.started + seconds,), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.finished = time.time()
    return result


class CreateAndPay:
    """Alternates create-order and pay-order commands: every other command pays the oldest
    order created and not yet paid (or creates one when none is ready yet).

    Orders go to ``user_ids`` in turn. One user makes every order's handlers that change the
    user (loyalty points) conflict with each other, more often the more workers run them."""

    def __init__(self, user_ids: Sequence[str], items: list[dict[str, Any]], amount: str) -> None:
        if isinstance(user_ids, str) or not user_ids:
            raise TypeError("give a list of one or more user ids")
        self._user_ids = list(user_ids)
        self._items = items
        self._amount = amount
        self._unpaid: deque[str] = deque()
        self._lock = threading.Lock()

    def next_request(self, tick: int) -> Request:
        if tick % 2 == 1:
            with self._lock:
                order_id = self._unpaid.popleft() if self._unpaid else None
            if order_id is not None:
                return f"/api/orders/{order_id}/pay", {"amount": self._amount}
        user_id = self._user_ids[tick // 2 % len(self._user_ids)]
        return "/api/orders", {"user_id": user_id, "items": self._items}

    def answered(self, path: str, answer: Answer) -> None:
        if path == "/api/orders" and answer.status == 201 and "order_id" in answer.body:
            with self._lock:
                self._unpaid.append(answer.body["order_id"])


@dataclass(frozen=True)
class CommandAnswer:
    path: str
    answer: Answer


def open_loop(
    port: int,
    commands: CreateAndPay,
    *,
    rate: float,
    seconds: float,
    stop: threading.Event | None = None,
    threads: int = 16,
) -> tuple[LoadResult, list[CommandAnswer]]:
    """Offer ``rate`` commands per second on a fixed schedule, whatever the answers' pace,
    for ``seconds`` or until ``stop`` is set.

    A request waiting for a free client thread still counts from its scheduled time, so a
    slow server shows as latency instead of silently lowering the offered rate.
    """
    result = LoadResult()
    log: list[CommandAnswer] = []
    lock = threading.Lock()
    local = threading.local()

    def send(tick: int, due: float) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(port)
        path, body = commands.next_request(tick)
        answer = client.post(path, body, due=due)
        commands.answered(path, answer)
        with lock:
            result.answers.append(answer)
            log.append(CommandAnswer(path, answer))

    pool = ThreadPoolExecutor(max_workers=threads)
    result.started = time.time()
    stopped = False
    for tick in range(int(rate * seconds)):
        if stop is not None and stop.is_set():
            stopped = True
            break
        due = result.started + tick / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        pool.submit(send, tick, due)
    # Stopped early: requests still waiting for a thread are dropped, not sent late.
    pool.shutdown(wait=True, cancel_futures=stopped)
    result.finished = time.time()
    return result, log
