"""Outgoing calls keep one connection per partner, made in the process that sends.

The suite's shared receiver speaks HTTP/1.0 (one connection per request); these tests need a
partner that keeps connections open, and that tells which connection each request came on.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.infrastructure.notifications import webhooks
from app.infrastructure.notifications.webhooks import post


@dataclass
class KeepAlivePartner:
    url: str = ""
    client_ports: list[int] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)


@pytest.fixture
def partner() -> Iterator[KeepAlivePartner]:
    seen = KeepAlivePartner()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.client_ports.append(self.client_address[1])
            seen.cookies.append(self.headers.get("Cookie", ""))
            self.send_response(200)
            self.send_header("Set-Cookie", "session=partner-chosen; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_calls_to_one_partner_share_a_connection(partner: KeepAlivePartner) -> None:
    for path in ("/hooks/a", "/hooks/b", "/other"):
        post(f"{partner.url}{path}", data=b"{}", headers={})
    assert len(partner.client_ports) == 3
    assert len(set(partner.client_ports)) == 1


def test_a_partners_cookie_is_never_sent_back(partner: KeepAlivePartner) -> None:
    post(f"{partner.url}/a", data=b"{}", headers={})
    post(f"{partner.url}/a", data=b"{}", headers={})
    assert partner.cookies == ["", ""]


def test_a_forked_process_makes_its_own_session(
    partner: KeepAlivePartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another pid is what a pool child sees: the parent's session and socket stay unused."""
    post(f"{partner.url}/a", data=b"{}", headers={})
    parents = webhooks._session(partner.url)
    monkeypatch.setattr("app.infrastructure.notifications.webhooks.os.getpid", lambda: -1)
    post(f"{partner.url}/a", data=b"{}", headers={})
    assert webhooks._session(partner.url) is not parents
    assert len(set(partner.client_ports)) == 2


def test_each_partner_has_its_own_session(partner: KeepAlivePartner) -> None:
    assert webhooks._session(f"{partner.url}/x") is webhooks._session(f"{partner.url}/y?token=1")
    assert webhooks._session(partner.url) is not webhooks._session("https://hooks.example.com/a")
