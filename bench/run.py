"""One bench run: every phase in order, then the table and the JSON.

Order: raw Celery, naive dual write, lean task, bare endpoint (yardsticks first, nothing else
running); then outboxflow: POST window with no worker (its orders are the drain's backlog), drain,
latency at a fixed rate, bounded-rate search, projection rebuild, relay drain. Whatever
happens (an error, Ctrl-C, SIGTERM) every started process is killed and the namespace removed.
"""

import os
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import (
    machine,
    phase_baseline,
    phase_bounded,
    phase_maintenance,
    phase_product,
    phase_web,
    report,
    yardstick_schema,
)
from bench.namespace import Namespace
from bench.outbox_watch import OutboxWatch
from bench.product_stack import ProductStack
from bench.profiles import Profile
from bench.progress import Progress
from bench.rig import Rig


def run(broker: str, profile: Profile, json_path: Path, keep_logs: bool = False) -> dict[str, Any]:
    progress = Progress()
    previous = {
        sig: signal.signal(sig, progress.interrupt) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    namespace = Namespace(broker)
    work_dir = Path(tempfile.mkdtemp(prefix="outboxflow-bench-"))
    rig = Rig(namespace, work_dir)
    watch: OutboxWatch | None = None
    try:
        progress.say(f"namespace {namespace.name} on {broker}; logs in {work_dir}")
        namespace.create()
        meta: dict[str, Any] = {
            "broker": broker,
            "profile": profile.name,
            "namespace": namespace.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine.describe(namespace),
            "load_average_at_start": os.getloadavg(),
        }
        engine = sa.create_engine(namespace.database_url)
        yardstick_schema.create_tables(engine)
        engine.dispose()

        figures: dict[str, float] = {}
        figures |= phase_baseline.run_raw_celery(rig, profile, progress)
        figures |= phase_baseline.run_dual_write(rig, profile, progress)
        figures |= phase_baseline.run_lean(rig, profile, progress)
        figures |= phase_web.run_bare_endpoint(rig, profile, progress)

        stack = ProductStack(rig, progress)
        stack.start_web_and_beat()
        watch = OutboxWatch(namespace.psycopg_dsn)
        user_id = stack.register_user()
        figures |= phase_web.run_product_post(
            rig, profile, progress, stack.port, user_id, lambda: stack.cpu("web")
        )
        figures |= phase_product.run_drain(stack, watch)
        figures |= phase_product.run_latency(stack, watch, profile, user_id)
        bounded, windows = phase_bounded.run_bounded_search(stack, watch, profile, user_id)
        figures |= bounded
        figures |= phase_maintenance.run_rebuild(stack, watch)
        figures |= phase_maintenance.run_relay_drain(
            stack, watch, profile, figures["rebuild_startup_seconds"]
        )
        figures |= phase_maintenance.run_store_rebuild(profile, progress)

        report.add_ratios(figures)
        checks = report.verdicts(figures, broker)
        meta["seconds"] = round(progress.elapsed(), 1)
        meta["load_average_at_end"] = os.getloadavg()
        document = {
            "meta": meta,
            "profile": profile.__dict__,
            "figures": figures,
            "targets": checks,
            "bounded_windows": windows,
        }
        report.write_json(json_path, document)
        print(report.table(figures, checks, meta), flush=True)
        progress.say(f"done in {progress.elapsed():.0f} s; JSON in {json_path}")
        return document
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rig.processes.kill_all()
        if watch is not None:
            watch.close()
        _remove(namespace, progress)
        if not keep_logs:
            _remove_tree(work_dir)


def _remove(namespace: Namespace, progress: Progress) -> None:
    for attempt in range(3):
        try:
            namespace.remove()
            return
        except Exception as exc:
            progress.note(f"cleanup of {namespace.name} failed ({exc}); retrying")
            time.sleep(1 + attempt)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
