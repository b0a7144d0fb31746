"""The partner of the ordering and partner-latency phases: a local HTTP server that accepts
the product's webhooks.

It answers 200 at once, except the first POST of an event named in ``refuse_once`` (503, which
the product retries after a backoff). It keeps each aggregate's accepted versions in the order
it accepted them, so a drain can count the aggregates whose events arrived out of order, and
when it first accepted each event, against the event's ``occurred_at``.
HTTP/1.1 with keep-alive, as a partner behind a load balancer would: the worker's pooled
connection is reused, and no handshake per delivery is timed.
"""

import json
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.namespace import HOST


class WebhookReceiver:
    """Start with ``start()``, stop with ``stop()``; ``reset`` between drains."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refuse: set[str] = set()
        self._accepted: dict[str, list[int]] = {}
        self._seen: set[str] = set()
        self._receipts: list[tuple[float, float]] = []
        self.posts = 0
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/webhook"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self, refuse_once: Iterable[str] = ()) -> None:
        """Forget every POST; answer 503 to the first POST of each of these event ids."""
        with self._lock:
            self._refuse = set(refuse_once)
            self._accepted = {}
            self._seen = set()
            self._receipts = []
            self.posts = 0

    def accepted_events(self) -> int:
        with self._lock:
            return len(self._seen)

    def receipt_delays_ms(self, since: float) -> list[float]:
        """For each event first accepted whose ``occurred_at`` is at or after ``since`` (a
        ``time.time()``): milliseconds from ``occurred_at`` to its acceptance here."""
        with self._lock:
            return [(at - occurred) * 1000 for occurred, at in self._receipts if occurred >= since]

    def out_of_order_aggregates(self) -> int:
        """Aggregates whose first acceptances of their events are not in version order."""
        with self._lock:
            return sum(versions != sorted(versions) for versions in self._accepted.values())

    def _answer(self, body: bytes) -> int:
        envelope = json.loads(body)
        event_id = str(envelope["event_id"])
        with self._lock:
            self.posts += 1
            if event_id in self._refuse:
                self._refuse.discard(event_id)
                return 503
            if event_id not in self._seen:
                self._seen.add(event_id)
                occurred = datetime.fromisoformat(str(envelope["occurred_at"])).timestamp()
                self._receipts.append((occurred, time.time()))
                versions = self._accepted.setdefault(str(envelope["aggregate_id"]), [])
                versions.append(int(envelope["aggregate_version"]))
        return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._answer(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: one line per delivery would cost more than the answer."""

        return Handler
