"""One broker's matrix: the namespace, the web and its users, then every cell in turn.

Whatever happens (an error, Ctrl-C, SIGTERM) every started process is killed and the
namespace removed, as ``python -m bench`` does.
"""

from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from bench import machine
from bench.corner import corner
from bench.outbox_watch import OutboxWatch
from bench.product_stack import ProductStack
from bench.progress import Progress
from bench.scale.cell import run_cell
from bench.scale.profile import ScaleProfile
from bench.scale.setting import Setting

USERS = 32
"""Users the orders are spread over; their welcome deliveries drain in the first warm-up."""
SCHEMA = 1
"""Version of the JSON document; ``bench.scale.table`` reads this one."""


def run_matrix(
    broker: str, profile: ScaleProfile, progress: Progress, keep_logs: bool = False
) -> dict[str, Any]:
    """Every (workers, relays) cell of ``profile`` on ``broker``; the JSON document."""
    with corner(broker, progress, "outboxflow-scale-", keep_logs) as rig:
        namespace = rig.namespace
        meta: dict[str, Any] = {
            "schema": SCHEMA,
            "broker": broker,
            "profile": profile.name,
            "namespace": namespace.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine.describe(namespace),
            "worker_processes": "one celery worker, --pool prefork --concurrency W",
        }
        stack = ProductStack(rig, progress)
        stack.migrate()
        progress.say(f"{broker}: starting gunicorn 'app:create_app()' -w 2 (no beat)")
        stack.web, stack.port = rig.start_gunicorn("web", "app:create_app()")
        user_ids = [stack.register_user() for _ in range(USERS)]
        cells = []
        with closing(OutboxWatch(namespace.psycopg_dsn)) as watch:
            setting = Setting(rig, watch, stack.port, user_ids, profile, progress)
            for workers in profile.workers:
                for relays in profile.relays:
                    stack.web.check_alive()
                    cells.append(run_cell(setting, workers, relays))
        meta["seconds"] = round(progress.elapsed(), 1)
        return {"meta": meta, "profile": profile.__dict__, "cells": cells}
