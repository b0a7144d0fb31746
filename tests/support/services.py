"""Skip or fail when a shared server is missing: ``REQUIRE_SERVICES=1`` makes it a failure.

Every "is PostgreSQL/Redis/RabbitMQ there?" decision in the suite goes through
``service_unavailable`` so CI (which sets the flag) can never pass by skipping.
"""

import os
import socket
from typing import NoReturn

import pytest

FLAG = "REQUIRE_SERVICES"
HOST = "127.0.0.1"


def services_required() -> bool:
    return os.environ.get(FLAG, "").strip().lower() in {"1", "true", "yes", "on"}


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when ``REQUIRE_SERVICES`` is set."""
    if services_required():
        pytest.fail(f"{reason} ({FLAG}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def port_open(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it; a tiny race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
