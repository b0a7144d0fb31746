"""One simulated host's share of a deployment: its processes, in its own network namespace.

A ``HostStack`` is a ``Stack`` whose web, relay, workers and beat run inside a
``NetworkHost`` and reach PostgreSQL and the broker over the host's link. Two of them on the
same database and broker are two hosts of one deployment: they share those two servers and
the settings passed to both, and nothing else — each has its own instance directory (the
maildir, beat's schedule file), its own metrics directories and its own hostname. The test
process still observes through the stack's in-process app, on 127.0.0.1.
"""

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.support.brokers import Broker
from tests.support.databases import Database
from tests.support.netns import NetworkHost
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack

WEB_PORTS_FROM = 8000
WORKER_METRICS_PORT = 9808
METRICS_TREES = ("web-", "of-worker-")
"""Processes that write prometheus-client's multiprocess files: each gets its own directory."""


class HostStack(Stack):
    def __init__(
        self,
        network: NetworkHost,
        database: Database,
        broker: Broker,
        *,
        on_process_started: Callable[[ManagedProcess], None] | None = None,
        **settings: object,
    ) -> None:
        super().__init__(
            database,
            broker,
            network.directory,
            on_process_started=on_process_started,
            **settings,
        )
        self.network = network
        self.env = {
            **self.env,
            "DATABASE_URL": network.reachable_url(database.url),
            "CELERY_BROKER_URL": network.reachable_url(broker.url),
        }
        self._web_ports = itertools.count(WEB_PORTS_FROM)

    def __repr__(self) -> str:
        return f"<HostStack {self.network.hostname} {self.directory}>"

    @property
    def worker_metrics_url(self) -> str:
        """Where this host's worker serves its pool's delivery metrics."""
        return f"http://{self.network.inner}:{WORKER_METRICS_PORT}/metrics"

    def metrics_dir(self, process_name: str) -> Path:
        return self.directory / "metrics" / process_name

    def _web_address(self) -> tuple[str, int]:
        return self.network.inner, next(self._web_ports)

    def _start(self, name: str, argv: list[str], *, env: Mapping[str, str]) -> ManagedProcess:
        own: dict[str, str] = {}
        if name.startswith(METRICS_TREES):
            own["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir(name))
        if name.startswith("of-worker-"):
            own["WORKER_METRICS_LISTEN"] = f"{self.network.inner}:{WORKER_METRICS_PORT}"
        return super()._start(name, self.network.wrap(argv), env={**own, **env})

    def kill_all(self) -> None:
        """SIGKILL every process group of this host, one right after another, without warning:
        the machine lost its power."""
        for process in self.processes:
            process.kill()
