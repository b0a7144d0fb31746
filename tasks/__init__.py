"""The Celery side: ``celery -A tasks worker|beat|flower``.

The Celery app is built lazily on first access of ``tasks.app`` (that is what ``-A tasks``
looks up), so importing this package has no side effects.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from tasks.worker_app import build_worker_celery

        return build_worker_celery()
    raise AttributeError(name)
