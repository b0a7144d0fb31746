"""``celery -A bench.baseline_worker worker …``: the yardstick tasks, on the project's settings.

A plain Celery app configured from ``celeryconfig.py`` (acks late, prefetch 1, JSON …) with the
same task time limits (the product's defaults in ``Settings``) and broker transport options the
product uses (a key prefix and visibility timeout on Redis, publisher confirms on RabbitMQ), so
the only difference from the product is the outbox.

* ``bench.noop``: does nothing (raw Celery);
* ``bench.dual_write``: the naive dual write's consumer, one projection's database work in
  one transaction (``yardstick_schema.project_order``);
* ``bench.lean``: the same work through the raw driver on a connection kept per process
  (``lean_task.project_order``): the lean yardstick a delivery is measured against.
"""

import os
from functools import cache
from typing import Any

import sqlalchemy as sa
from celery import Celery

from app.config import Settings
from bench import lean_task, probe, yardstick_schema

QUEUE = "bench"
DATABASE_URL_ENV = "BENCH_DATABASE_URL"


def transport_options(broker_url: str, key_prefix: str) -> dict[str, Any]:
    if broker_url.startswith("redis"):
        options: dict[str, Any] = {
            "visibility_timeout": 3600,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        }
        if key_prefix:
            options["global_keyprefix"] = key_prefix
        return options
    return {"confirm_publish": True}


def build_app(broker_url: str, key_prefix: str) -> Celery:
    celery = Celery("outboxflow_bench")
    celery.config_from_object("celeryconfig")
    defaults = Settings()
    celery.conf.update(
        task_soft_time_limit=defaults.task_soft_time_limit,
        task_time_limit=defaults.task_time_limit,
        broker_url=broker_url,
        broker_transport_options=transport_options(broker_url, key_prefix),
        task_default_queue=QUEUE,
    )

    @celery.task(name="bench.noop", shared=False)
    def noop(sent_at: float = 0.0, pad: str = "") -> None:
        """Nothing: what Celery itself costs."""

    @celery.task(name="bench.dual_write", shared=False)
    def dual_write(order_id: str, sent_at: float = 0.0) -> None:
        with _engine().begin() as conn:
            yardstick_schema.project_order(conn, order_id)

    @celery.task(name="bench.lean", shared=False)
    def lean(order_id: str, sent_at: float = 0.0) -> None:
        lean_task.project_order(lean_task.connection(), order_id)

    return celery


_engines: dict[int, sa.Engine] = {}


def _engine() -> sa.Engine:
    """One engine per process, made after the pool forked (a plain engine, no pre-ping)."""
    pid = os.getpid()
    if pid not in _engines:
        _engines[pid] = sa.create_engine(os.environ[DATABASE_URL_ENV])
    return _engines[pid]


@cache
def _worker_app() -> Celery:
    probe.install()
    return build_app(os.environ["CELERY_BROKER_URL"], os.environ.get("BROKER_KEY_PREFIX", ""))


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        return _worker_app()
    raise AttributeError(name)
