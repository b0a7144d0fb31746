"""``celery -A bench.probe_worker worker …``: the product's own worker, with the bench's probe.

It is exactly ``celery -A tasks worker`` (the app comes from ``tasks``) plus Celery signal
receivers that record each task's start and end (see ``bench.probe``), and, when
``BENCH_SQL_COUNT_DIR`` is set, the SQL round-trip counter (``bench.sql_count``). Like
``tasks``, the Celery app is looked up lazily, so importing this module builds nothing.
"""

from typing import Any

from bench import probe, sql_count


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        import tasks

        # The app first: its worker_process_init receiver (which builds each pool process's
        # app) is then connected before the probe's, which reports the process ready.
        celery = tasks.app
        probe.install()
        sql_count.install_if_asked()
        return celery
    raise AttributeError(name)
