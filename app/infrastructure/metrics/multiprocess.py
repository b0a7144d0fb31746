"""The multiprocess directory's life cycle and the registry a scrape reads."""

import logging
import os
import shutil
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from prometheus_client.registry import Collector

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger(__name__)


def multiprocess_dir() -> Path | None:
    """The directory prometheus-client writes to, if this process runs in multiprocess mode."""
    value = os.environ.get(ENV_VAR, "")
    return Path(value) if value else None


def reset_directory() -> None:
    """Empty the directory before the process tree starts writing to it.

    Files left by a previous run would otherwise be added to this run's counters
    (prometheus-client's documentation asks for a wipe at every start).
    """
    directory = multiprocess_dir()
    if directory is None:
        return
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def mark_process_dead(pid: int) -> None:
    """A process of the tree exited: drop its live-gauge files (its counters stay summed)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """A fresh registry for one scrape: every process's samples (or this process's own in
    single-process mode) plus ``collectors``, which are queried at scrape time."""
    registry = CollectorRegistry()
    if multiprocess_dir() is None:
        registry.register(REGISTRY)
    else:
        multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``WORKER_METRICS_LISTEN``) as an address to bind."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"WORKER_METRICS_LISTEN must be host:port, got {value!r}")
    return host, int(port)


def serve(listen: str) -> None:
    """In a worker's main process, before its pool forks: wipe the directory, then serve
    the sum of its files on ``listen`` (nothing when it is empty)."""
    if not listen:
        return
    if multiprocess_dir() is None:
        raise RuntimeError(
            "WORKER_METRICS_LISTEN is set but PROMETHEUS_MULTIPROC_DIR is not: "
            "the exporter would see none of the pool processes' deliveries"
        )
    host, port = parse_listen(listen)
    reset_directory()
    start_http_server(port, addr=host, registry=scrape_registry())
    log.info("worker metrics on http://%s:%d/metrics", host, port)


class ProcessMetrics:
    """The functions above as the container hands them to the entry points: ``/metrics``
    scrapes through it, a worker serves its pool's files with it, a pool process reports
    its exit to it."""

    def scrape_registry(self, *collectors: Collector) -> CollectorRegistry:
        return scrape_registry(*collectors)

    def serve(self, listen: str) -> None:
        serve(listen)

    def mark_process_dead(self, pid: int) -> None:
        mark_process_dead(pid)
