"""A webhook receiver on 127.0.0.1 that records every POST and fails on command."""

import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.infrastructure.notifications.webhooks import SIGNATURE_HEADER


@dataclass
class Received:
    key: str
    event_type: str
    signature_ok: bool
    status: int


@dataclass
class WebhookReceiver:
    """``respond(key, event_type) -> (status, delay_seconds)`` decides each answer.

    The default answers 200 at once.

    ``respond`` runs in the server's request thread, so it may also inject a fault.
    """

    secret: str
    respond: Callable[[str, str], tuple[int, float]] = lambda _key, _type: (200, 0.0)
    calls: list[Received] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)
    """Keys of requests that reached the receiver, before it answered (in-flight included)."""
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> None:
        with self._lock:
            self.calls.append(received)

    def accepted_keys(self) -> Counter[str]:
        """How many times each idempotency key was answered 2xx."""
        with self._lock:
            return Counter(c.key for c in self.calls if 200 <= c.status < 300)

    def all_signed(self) -> bool:
        with self._lock:
            return all(c.signature_ok for c in self.calls)


@contextmanager
def running_receiver(secret: str) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            key = self.headers.get("Idempotency-Key", "")
            receiver.arrived.append(key)
            event_type = self.headers.get("X-Event-Type", "")
            status, delay = receiver.respond(key, event_type)
            if delay:
                time.sleep(delay)
            receiver.record(
                Received(
                    key=key,
                    event_type=event_type,
                    signature_ok=hmac.compare_digest(
                        expected, self.headers.get(SIGNATURE_HEADER, "")
                    ),
                    status=status,
                )
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
