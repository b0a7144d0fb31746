"""gunicorn server hooks for multiprocess metrics: ``gunicorn -c python:app.api.gunicorn_hooks``.

The master empties ``PROMETHEUS_MULTIPROC_DIR`` before it forks any worker, and marks
each worker dead when it exits, as prometheus-client's multiprocess mode asks.
"""

from typing import Any

from app.infrastructure.metrics.multiprocess import mark_process_dead, reset_directory


def on_starting(server: Any) -> None:
    reset_directory()


def child_exit(server: Any, worker: Any) -> None:
    mark_process_dead(worker.pid)
