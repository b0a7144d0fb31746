"""The multiprocess directory's life cycle and the registry a scrape reads."""

import os
import shutil
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.registry import Collector

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


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
