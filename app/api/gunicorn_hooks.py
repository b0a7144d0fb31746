"""gunicorn server hooks: ``gunicorn -c python:app.api.gunicorn_hooks``.

The master checks the settings before it binds or forks anything: settings a worker would
refuse (``APP_ENV=production`` without ADMIN_TOKEN, say) stop gunicorn with their one-line
reason, printed once. Left to the workers, each would print it and exit 1, and the master
would boot another in its place, forever. (``--preload`` refuses in the master too, while
building the app; this hook covers a command line without it.)

The master also empties ``PROMETHEUS_MULTIPROC_DIR`` before it forks any worker, and
marks each worker dead when it exits, as prometheus-client's multiprocess mode asks.
"""

from typing import Protocol

from app.config import settings_to_start_with
from app.infrastructure.metrics.multiprocess import mark_process_dead, reset_directory


class _Worker(Protocol):
    """What a gunicorn worker (the arbiter's record of one) offers these hooks."""

    pid: int


def on_starting(server: object) -> None:
    settings_to_start_with()
    reset_directory()


def child_exit(server: object, worker: _Worker) -> None:
    mark_process_dead(worker.pid)
