"""The suite's one HTTP receiver: a real server on 127.0.0.1 in a daemon thread.

It records every POST (path, headers, body) as it arrives, asks its ``respond``
callback for an ``Answer`` (status, optional delay, optional body), waits the delay,
records the exchange and answers. ``respond`` may be replaced while the server runs; it
is called in the request's thread, so it may also inject a fault.

``answer_by_path`` is the path-based convention: ``/status/<code>``, ``/slow/<seconds>``,
anything else 200.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.infrastructure.notifications.signature import InvalidSignature, verify_signature


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str:
        """The header's value, whatever the case of its name; "" when absent."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def signed_with(self, secret: str) -> bool:
        """Whether a receiver holding ``secret`` accepts it, judged when it arrived (a test
        may look long after, past the signature's tolerance)."""
        try:
            verify_signature(secret, self.headers, self.body, now=self.received_at)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0
    """Seconds to wait before answering (the request is already recorded)."""
    body: bytes = b""
    """Sent as ``application/json`` when not empty."""


@dataclass(frozen=True)
class Exchange:
    request: Request
    answer: Answer


Respond = Callable[[Request], Answer]


def answer_ok(_request: Request) -> Answer:
    return Answer()


def answer_by_path(request: Request) -> Answer:
    """``/status/<code>`` answers that code, ``/slow/<seconds>`` waits first, else 200.

    The body names the status: ``{"answered": <code>}``.
    """
    parts = request.path.strip("/").split("/")
    status, delay = 200, 0.0
    if parts[0] == "status":
        status = int(parts[1])
    elif parts[0] == "slow":
        delay = float(parts[1])
    return Answer(status, delay, f'{{"answered": {status}}}'.encode())


@dataclass
class HttpReceiver:
    respond: Respond = answer_ok
    base_url: str = ""
    requests: list[Request] = field(default_factory=list)
    """Every request, recorded on arrival (before it is answered: in-flight included)."""
    exchanges: list[Exchange] = field(default_factory=list)
    """Every request with its answer, recorded after the delay, just before answering."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def answered(self) -> list[Exchange]:
        """A snapshot of ``exchanges``, safe to read while requests arrive."""
        with self._lock:
            return list(self.exchanges)

    def _arrived(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _answering(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)


@contextmanager
def http_receiver(respond: Respond = answer_ok) -> Iterator[HttpReceiver]:
    """Serve until the block ends, then shut the server down."""
    receiver = HttpReceiver(respond)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(self.path, dict(self.headers.items()), body)
            receiver._arrived(request)
            answer = receiver.respond(request)
            if answer.delay:
                time.sleep(answer.delay)
            receiver._answering(Exchange(request, answer))
            try:
                self.send_response(answer.status)
                if answer.body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout, a killed worker)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def failing_integrations(receiver: HttpReceiver) -> dict[str, object]:
    """Stack settings under which outbound calls fail: webhooks for good (400), Slack for now
    (503) until its delivery runs out of 2 attempts, 1 s apart. Pair with ``answer_by_path``.
    """
    return {
        "webhook_urls": receiver.url("/status/400"),
        "webhook_secret": "s",
        "slack_webhook_url": receiver.url("/status/503"),
        "outbox_max_attempts": 2,
        "outbox_retry_backoff_seconds": 1,
    }
