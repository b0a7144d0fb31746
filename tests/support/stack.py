"""One outboxflow deployment for a test: database + broker + instance dir + processes.

The test process gets its own Flask app (``stack.app``/``stack.client``) on the same
database and broker as the ``celery worker``/``beat``/relay subprocesses: commands posted
through the test client only write, and the following relay (started with the first
worker, as ``make run`` does) publishes them at commit; beat's sweep is the safety net.
"""

import mailbox
import subprocess
from collections.abc import Callable, Mapping, Sequence
from email.message import Message
from pathlib import Path
from typing import Any
from uuid import uuid4

import requests
import sqlalchemy as sa
from celery import Celery
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.application.event_handlers.registry import HANDLER_QUEUES
from app.config import Settings
from app.container import Container, container_of
from app.infrastructure.messaging.celery_app import RELAY_QUEUE
from tests.support.brokers import Broker, queue_depths
from tests.support.databases import Database, process_env, run_flask
from tests.support.outbox import wait_for_outbox_drained
from tests.support.processes import (
    BEAT_READY,
    RELAY_READY,
    WORKER_READY,
    ManagedProcess,
    celery_beat_argv,
    celery_worker_argv,
    flask_argv,
    gunicorn_argv,
)
from tests.support.services import free_port
from tests.support.waiting import wait_until

WORKER_QUEUES: tuple[str, ...] = (RELAY_QUEUE, *HANDLER_QUEUES)
DEFAULT_SETTINGS: Mapping[str, str] = {"OUTBOX_RELAY_INTERVAL": "0.2"}
READY_TIMEOUT = 60.0


def settings_env(
    database: Database, broker: Broker, instance_dir: Path, **settings: object
) -> dict[str, str]:
    """The environment every process of the stack is configured from.

    ``settings`` are Settings field names (``outbox_redelivery_seconds=5``), values as
    they would appear in the environment (tuples are joined with commas).
    """
    env = {
        **DEFAULT_SETTINGS,
        "DATABASE_URL": database.url,
        "INSTANCE_DIR": str(instance_dir),
        **broker.settings_env(),
    }
    for name, value in settings.items():
        env[name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    return env


class Stack:
    def __init__(
        self,
        database: Database,
        broker: Broker,
        directory: Path,
        *,
        on_process_started: Callable[[ManagedProcess], None] | None = None,
        **settings: object,
    ) -> None:
        self.database = database
        self.broker = broker
        self.directory = directory
        self.instance_dir = directory / "instance"
        self.logs_dir = directory / "logs"
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        self.env = settings_env(database, broker, self.instance_dir, **settings)
        self.settings = Settings.from_env(env=self.env, instance_dir=self.instance_dir)
        self.app: Flask = create_app(self.settings)
        self.client: FlaskClient = self.app.test_client()
        self.processes: list[ManagedProcess] = []
        self._on_process_started = on_process_started
        self._settings = settings
        self._reconfigured: list[Stack] = []

    def __repr__(self) -> str:
        return f"<Stack {self.database.kind}+{self.broker.kind} {self.directory}>"

    @property
    def container(self) -> Container:
        return container_of(self.app)

    @property
    def engine(self) -> sa.Engine:
        return self.container.engine

    @property
    def celery(self) -> Celery:
        celery: Celery = self.app.extensions["celery"]
        return celery

    @property
    def maildir(self) -> Path:
        return self.instance_dir / "maildir"

    def process_env(self, **overrides: str) -> dict[str, str]:
        return process_env({**self.env, **overrides})

    def start_worker(
        self,
        *,
        concurrency: int = 2,
        queues: Sequence[str] = WORKER_QUEUES,
        ready_timeout: float = READY_TIMEOUT,
        env: Mapping[str, str] | None = None,
        relay: bool = True,
    ) -> ManagedProcess:
        """``celery -A tasks worker`` (prefork) on ``queues``; returns once it is ready.

        ``relay``: also start the following relay, unless one is running already.
        """
        process, ready = self._launch_worker(concurrency, queues, env or {})
        if relay and not self._relay_running():
            self.start_relay()
        process.wait_for_log(ready, timeout=ready_timeout)
        return process

    def _relay_running(self) -> bool:
        return any(p.name.startswith("relay") and p.running for p in self.processes)

    def start_relay(
        self, *, ready_timeout: float = READY_TIMEOUT, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        """``flask --app app outbox relay --follow``: publishes deliveries at commit."""
        process = self._start(
            f"relay-{uuid4().hex[:6]}", flask_argv("outbox", "relay", "--follow"), env=env or {}
        )
        process.wait_for_log(RELAY_READY, timeout=ready_timeout)
        return process

    def start_beat(
        self, *, ready_timeout: float = READY_TIMEOUT, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        """``celery -A tasks beat``: schedules ``outbox.relay`` every OUTBOX_RELAY_INTERVAL."""
        process = self._start("beat", celery_beat_argv(), env=env or {})
        process.wait_for_log(BEAT_READY, timeout=ready_timeout)
        return process

    def start_web(
        self,
        *,
        workers: int = 2,
        ready_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> tuple[ManagedProcess, str]:
        """The app under gunicorn (sync workers, the metrics hooks) on a free port.

        Returns the process and its base URL once ``/healthz`` answers (the master
        listens before its workers have imported the app).
        """
        host, port = self._web_address()
        argv = gunicorn_argv(port, workers, host=host)
        process = self._start(f"web-{port}", argv, env=env or {})
        base_url = f"http://{host}:{port}"

        def answering() -> bool:
            process.check_alive()
            try:
                return requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(
            answering,
            timeout=ready_timeout,
            interval=0.25,
            what=f"gunicorn to answer /healthz on {base_url}",
            describe=process.tail,
        )
        return process, base_url

    def _web_address(self) -> tuple[str, int]:
        """Where the next gunicorn binds: a free port on loopback."""
        return "127.0.0.1", free_port()

    def start_celery(
        self,
        *,
        concurrency: int = 2,
        queues: Sequence[str] = WORKER_QUEUES,
        worker_env: Mapping[str, str] | None = None,
    ) -> tuple[ManagedProcess, ManagedProcess]:
        """A worker (on every queue by default), beat and (unless one runs) the following
        relay, started together; returns once all are ready.

        Both spend their start-up importing the app, so starting them side by side
        costs about one start-up instead of two. Beat may schedule a relay sweep before
        the worker listens: the message waits on the broker, as in a real deployment.
        """
        worker, worker_ready = self._launch_worker(concurrency, queues, worker_env or {})
        beat = self._start("beat", celery_beat_argv(), env={})
        if not self._relay_running():
            self.start_relay()
        worker.wait_for_log(worker_ready, timeout=READY_TIMEOUT)
        beat.wait_for_log(BEAT_READY, timeout=READY_TIMEOUT)
        return worker, beat

    def _launch_worker(
        self, concurrency: int, queues: Sequence[str], env: Mapping[str, str]
    ) -> tuple[ManagedProcess, str]:
        """Start a worker without waiting; returns it with the log line that says it is ready."""
        nodename = f"of-worker-{uuid4().hex[:8]}"
        process = self._start(nodename, celery_worker_argv(nodename, queues, concurrency), env=env)
        return process, WORKER_READY.format(node=nodename)

    def _start(self, name: str, argv: list[str], *, env: Mapping[str, str]) -> ManagedProcess:
        number = len(self.processes) + 1
        process = ManagedProcess(
            name,
            argv,
            env=self.process_env(**env),
            cwd=self.instance_dir,
            log_path=self.logs_dir / f"{number:02d}-{name}.log",
        )
        self.processes.append(process)
        if self._on_process_started is not None:
            self._on_process_started(process)
        return process.start()

    def reconfigured(self, **settings: object) -> "Stack":
        """The same deployment (database, broker) with changed settings, as after editing
        its environment: start the processes that must read them on the new stack, after
        stopping this one's. ``close`` closes it too."""
        directory = self.directory.with_name(f"{self.directory.name}-{len(self._reconfigured) + 1}")
        stack = Stack(
            self.database,
            self.broker,
            directory,
            on_process_started=self._on_process_started,
            **{**self._settings, **settings},
        )
        self._reconfigured.append(stack)
        return stack

    def check_processes(self) -> None:
        """Raise if any process died without being stopped or killed by the test."""
        for process in self.processes:
            process.check_alive()

    def wait_drained(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until every delivery is ``done`` or ``dead``; fails early if a process died."""
        return wait_for_outbox_drained(
            self.app, timeout=timeout, health_checks=[self.check_processes]
        )

    def cli(self, *args: str) -> Result:
        """Run a ``flask`` command in this process against this stack's app."""
        return self.app.test_cli_runner().invoke(args=list(args))

    def run_flask(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``flask --app app <args>`` as a subprocess with this stack's settings."""
        return run_flask(list(args), self.env, timeout=timeout)

    def emails(self) -> list[Message]:
        if not self.maildir.exists():
            return []
        return list(mailbox.Maildir(self.maildir, create=False))

    def queue_depths(self, queues: Sequence[str] = WORKER_QUEUES) -> dict[str, int]:
        return queue_depths(self.celery, queues)

    def close(self) -> None:
        """The test is over: SIGKILL every process, then release connections.

        A warm shutdown would only cost time here (about 1.5 s per worker on these
        machines); the broker and database it leaves behind are private to the test.
        """
        try:
            for stack in reversed(self._reconfigured):
                stack.close()
            for process in reversed(self.processes):
                process.kill()
        finally:
            self.celery.close()
            self.engine.dispose()
            self.container.session_engine.dispose()
