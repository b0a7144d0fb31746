"""A private corner of the shared servers for one bench run, removed again afterwards.

PostgreSQL: a database ``outboxflow_bench_<hex>``, dropped (WITH FORCE) at the end.
Redis: a key prefix ``outboxflow_bench_<hex>:`` for every broker key, deleted at the end.
RabbitMQ: a vhost ``outboxflow_bench_<hex>`` made with ``rabbitmqctl`` (or the management
API when that is what answers), deleted at the end.
"""

import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import psycopg
import redis
import requests
from psycopg import sql

HOST = "127.0.0.1"
POSTGRES_ADMIN_DSN = f"host={HOST} port=5432 user=postgres dbname=postgres"
REDIS_URL = f"redis://{HOST}:6379/0"
RABBITMQ_PORT = 5672
RABBITMQ_MANAGEMENT = f"http://{HOST}:15672/api"
BROKERS = ("redis", "amqp")


class NamespaceError(RuntimeError):
    """A shared server is missing or refused to make room for the bench."""


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Namespace:
    broker: str
    name: str = field(default_factory=lambda: f"outboxflow_bench_{uuid.uuid4().hex[:12]}")
    database_created: bool = False
    vhost_created: bool = False

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:5432/{self.name}"

    @property
    def psycopg_dsn(self) -> str:
        return f"host={HOST} port=5432 user=postgres dbname={self.name}"

    @property
    def broker_url(self) -> str:
        if self.broker == "redis":
            return REDIS_URL
        return f"amqp://guest:guest@{HOST}:{RABBITMQ_PORT}/{quote(self.name, safe='')}"

    @property
    def key_prefix(self) -> str:
        """Redis only: every broker key of the run starts with this."""
        return f"{self.name}:" if self.broker == "redis" else ""

    def broker_env(self) -> dict[str, str]:
        env = {"CELERY_BROKER_URL": self.broker_url}
        if self.key_prefix:
            env["BROKER_KEY_PREFIX"] = self.key_prefix
        return env

    def create(self) -> None:
        try:
            with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=5, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        except psycopg.Error as exc:
            raise NamespaceError(f"cannot create a PostgreSQL database: {exc}") from exc
        self.database_created = True
        if self.broker == "redis":
            _ping_redis()
        else:
            _rabbit_vhost("add", self.name)
            self.vhost_created = True

    def remove(self) -> None:
        """Drop what ``create`` made; safe to call after a partial ``create``."""
        if self.database_created:
            with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=5, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.name)
                    )
                )
            self.database_created = False
        if self.broker == "redis":
            _delete_prefixed_keys(self.key_prefix)
        elif self.vhost_created:
            _rabbit_vhost("delete", self.name)
            self.vhost_created = False


def _ping_redis() -> None:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_timeout=3) as client:
            client.ping()
    except redis.RedisError as exc:
        raise NamespaceError(f"Redis at {REDIS_URL} is not reachable: {exc}") from exc


def _delete_prefixed_keys(prefix: str) -> None:
    if not prefix:
        raise ValueError("refusing to delete every key: give a prefix")
    pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
    with redis.Redis.from_url(REDIS_URL, socket_timeout=10) as client:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)


def _rabbit_vhost(action: str, name: str) -> None:
    """``add`` (with full rights for guest) or ``delete`` a vhost."""
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        commands = [[ctl, f"{action}_vhost", name]]
        if action == "add":
            commands.append([ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"])
        for argv in commands:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                raise NamespaceError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        return
    auth = ("guest", "guest")
    try:
        if action == "add":
            requests.put(f"{RABBITMQ_MANAGEMENT}/vhosts/{quote(name)}", auth=auth, timeout=10)
            answer = requests.put(
                f"{RABBITMQ_MANAGEMENT}/permissions/{quote(name)}/guest",
                json={"configure": ".*", "write": ".*", "read": ".*"},
                auth=auth,
                timeout=10,
            )
        else:
            answer = requests.delete(
                f"{RABBITMQ_MANAGEMENT}/vhosts/{quote(name)}", auth=auth, timeout=10
            )
    except requests.RequestException as exc:
        raise NamespaceError(f"neither rabbitmqctl nor the management API answer: {exc}") from exc
    if answer.status_code not in (200, 201, 204):
        raise NamespaceError(f"RabbitMQ management API answered {answer.status_code}")
