"""``celery -A bench.probe_worker worker …``: the product's own worker, with the bench's probe.

It is exactly ``celery -A tasks worker`` (the app comes from ``tasks``) plus Celery signal
receivers that record each task's start and end (see ``bench.probe``). Like ``tasks``, the
Celery app is looked up lazily, so importing this module builds nothing.
"""

from typing import Any

from bench import probe


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        import tasks

        probe.install()
        return tasks.app
    raise AttributeError(name)
