"""A webhook receiver on 127.0.0.1 that records every POST and fails on command.

A layer over ``tests.support.http_receiver``: it reads each request's idempotency key,
event type and whether its signature holds for the receiver's secret.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.http_receiver import Answer, HttpReceiver, Request, http_receiver


@dataclass
class Received:
    key: str
    event_type: str
    signature_ok: bool
    status: int
    envelope: dict[str, Any]
    """The POSTed event (empty if the body was not a JSON object)."""


def _key(request: Request) -> str:
    return request.header("Idempotency-Key")


def _envelope(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class WebhookReceiver:
    """``respond(key, event_type) -> (status, delay_seconds)`` decides each answer.

    The default answers 200 at once.

    ``respond`` runs in the server's request thread, so it may also inject a fault.
    """

    def __init__(self, secret: str, http: HttpReceiver) -> None:
        self.secret = secret
        self.respond: Callable[[str, str], tuple[int, float]] = lambda _key, _type: (200, 0.0)
        self.refuse: Callable[[dict[str, Any]], bool] = lambda _envelope: False
        """Answer 422 to an event for which this says so (before ``respond`` is asked)."""
        self._http = http
        http.respond = self._answer

    @property
    def url(self) -> str:
        return self._http.url("/hook")

    @property
    def arrived(self) -> list[str]:
        """Keys of requests that reached the receiver, before it answered (in-flight included)."""
        return [_key(request) for request in list(self._http.requests)]

    @property
    def calls(self) -> list[Received]:
        """The answered requests, in the order they were answered."""
        return [
            Received(
                key=_key(exchange.request),
                event_type=exchange.request.header("X-Event-Type"),
                signature_ok=exchange.request.signed_with(self.secret),
                status=exchange.answer.status,
                envelope=_envelope(exchange.request),
            )
            for exchange in self._http.answered()
        ]

    def first_acceptances(self) -> list[Received]:
        """Each event's first 2xx answer, in the order they were answered: the order in
        which the partner took the events in."""
        seen: set[str] = set()
        firsts = []
        for call in self.calls:
            if 200 <= call.status < 300 and call.key not in seen:
                seen.add(call.key)
                firsts.append(call)
        return firsts

    def accepted_keys(self) -> Counter[str]:
        """How many times each idempotency key was answered 2xx."""
        return Counter(c.key for c in self.calls if 200 <= c.status < 300)

    def all_signed(self) -> bool:
        return all(c.signature_ok for c in self.calls)

    def _answer(self, request: Request) -> Answer:
        if self.refuse(_envelope(request)):
            return Answer(422)
        status, delay = self.respond(_key(request), request.header("X-Event-Type"))
        return Answer(status, delay)


@contextmanager
def running_receiver(secret: str) -> Iterator[WebhookReceiver]:
    with http_receiver() as http:
        yield WebhookReceiver(secret, http)
