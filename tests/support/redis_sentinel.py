"""A private Redis master, its replica and three Sentinels (``redis-server --sentinel``).

No persistence anywhere, as the project's Redis runs: what the master had not yet sent to
its replica when it dies is gone. The Sentinels notice a dead master within
``DOWN_AFTER_MS`` and, two of three agreeing, promote the replica.
"""

import os
import shutil
import time
from pathlib import Path

import redis

from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port, service_unavailable
from tests.support.waiting import wait_until

MASTER_NAME = "outboxflow"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
SENTINELS = 3
QUORUM = 2


class SentinelGroup:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("redis-server is not installed: no private Redis with Sentinel")
        self._binary = binary
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(SENTINELS)]
        self.servers = {
            self.master_port: self._server("master", self.master_port),
            self.replica_port: self._server(
                "replica", self.replica_port, "--replicaof", HOST, str(self.master_port)
            ),
        }
        self.sentinels = [self._sentinel(port) for port in self.sentinel_ports]
        self.killed_port: int | None = None

    @property
    def url(self) -> str:
        """A kombu ``sentinel://`` URL listing every Sentinel (database 0)."""
        return ";".join(f"sentinel://{HOST}:{port}/0" for port in self.sentinel_ports)

    def _server(self, role: str, port: int, *extra: str) -> ManagedProcess:
        data = self.directory / f"{role}-{port}"
        data.mkdir()
        argv = [
            self._binary,
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            *extra,
        ]
        return self._process(f"redis-{role}:{port}", argv, data)

    def _sentinel(self, port: int) -> ManagedProcess:
        home = self.directory / f"sentinel-{port}"
        home.mkdir()
        config = home / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind {HOST}\ndir {home}\n"
            f"sentinel monitor {MASTER_NAME} {HOST} {self.master_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        return self._process(f"sentinel:{port}", [self._binary, str(config), "--sentinel"], home)

    def _process(self, name: str, argv: list[str], cwd: Path) -> ManagedProcess:
        return ManagedProcess(name, argv, env=dict(os.environ), cwd=cwd, log_path=cwd / "redis.log")

    def start(self) -> "SentinelGroup":
        for process in [*self.servers.values(), *self.sentinels]:
            process.start()
        wait_until(self._replica_in_sync, timeout=30, what="the replica to sync with its master")
        wait_until(
            lambda: all(self._sentinel_knows_replica(port) for port in self.sentinel_ports),
            timeout=30,
            what="every Sentinel to know the master and its replica",
        )
        return self

    def _replica_in_sync(self) -> bool:
        try:
            with _client(self.replica_port) as client:
                info = client.info("replication")
        except redis.RedisError:
            return False
        return bool(info.get("master_link_status") == "up")

    def _sentinel_knows_replica(self, port: int) -> bool:
        try:
            with _client(port) as client:
                replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
        except redis.RedisError:
            return False
        return len(replicas) >= 1

    def master_port_now(self) -> int | None:
        """The master's port as the first Sentinel that answers names it."""
        for port in self.sentinel_ports:
            try:
                with _client(port) as client:
                    address = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
                    )
            except redis.RedisError:
                continue
            if address:
                return int(address[1])
        return None

    def kill_master(self) -> float:
        """SIGKILL the current master; returns when (``time.monotonic()``) it died."""
        port = self.master_port_now()
        assert port is not None, "no Sentinel names a master"
        self.servers[port].kill()
        self.killed_port = port
        return time.monotonic()

    def wait_promoted(self, timeout: float = 60.0) -> float:
        """Wait until a Sentinel names another master that answers as one; returns when."""
        killed = self.killed_port

        def promoted() -> bool:
            port = self.master_port_now()
            if port is None or port == killed:
                return False
            try:
                with _client(port) as client:
                    return client.info("replication").get("role") == "master"
            except redis.RedisError:
                return False

        wait_until(promoted, timeout=timeout, interval=0.05, what="a replica promoted")
        return time.monotonic()

    def restart_old_master(self) -> None:
        """Start the killed server again (empty); the Sentinels make it the new replica."""
        assert self.killed_port is not None, "no master was killed"
        self.servers[self.killed_port].start()

    def close(self) -> None:
        for process in [*self.sentinels, *self.servers.values()]:
            process.kill()


def _client(port: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=2)
