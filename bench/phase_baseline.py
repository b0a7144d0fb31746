"""The yardsticks on the broker: raw Celery (no-op tasks), the naive dual write, the lean task."""

import time
import uuid
from typing import Any

import sqlalchemy as sa

from bench import baseline_worker, sample_order, yardstick_schema
from bench.drain import Drain, measure, wait_for_ends
from bench.numbers import percentile, rate
from bench.profiles import Profile
from bench.progress import Progress
from bench.rig import Rig, wait_ready

PAD = "x" * 600
"""Makes a no-op task's message about as large as a product delivery's envelope."""


def _is(name: str) -> Any:
    return lambda record: record.task == name


def run_raw_celery(rig: Rig, profile: Profile, progress: Progress) -> dict[str, float]:
    ns = rig.namespace
    celery = baseline_worker.build_app(ns.broker_url, ns.key_prefix)
    noop = celery.tasks["bench.noop"]
    progress.say(f"raw Celery: publishing {profile.raw_tasks} no-op tasks one by one")
    noop.apply_async(kwargs={"sent_at": time.time(), "pad": PAD})
    started = time.perf_counter()
    for _ in range(profile.raw_tasks - 1):
        noop.apply_async(kwargs={"sent_at": time.time(), "pad": PAD})
    publish_rate = rate(profile.raw_tasks - 1, time.perf_counter() - started)

    progress.say(f"raw Celery: {publish_rate:.0f} published/s; starting a worker to consume them")
    worker, probe_dir = rig.start_worker("raw-worker", "bench.baseline_worker", "bench")
    ready = wait_ready(worker, probe_dir)
    records = wait_for_ends(worker, probe_dir, _is("bench.noop"), profile.raw_tasks, 120)
    drain = measure(records, ready.fields["cpu"], worker.cpu_seconds())
    progress.say(f"raw Celery: consumed {drain.per_second:.0f}/s")

    progress.say(
        f"raw Celery: apply→start latency at {profile.paced_rate:.0f}/s "
        f"for {profile.paced_seconds:.0f} s"
    )
    paced_from = time.time()
    count = int(profile.paced_rate * profile.paced_seconds)
    for n in range(count):
        delay = paced_from + n / profile.paced_rate - time.time()
        if delay > 0:
            time.sleep(delay)
        noop.apply_async(kwargs={"sent_at": time.time(), "pad": PAD})
    records = wait_for_ends(worker, probe_dir, _is("bench.noop"), profile.raw_tasks + count, 60)
    latencies = [
        (r.at - r.fields["sent"]) * 1000
        for r in records
        if r.kind == "start" and r.fields.get("sent", 0) >= paced_from
    ]
    rig.processes.stop(worker)
    celery.close()
    return {
        "raw_publish_per_s": publish_rate,
        "raw_consume_per_s": drain.per_second,
        "raw_worker_cpu_ms_per_task": drain.cpu_ms_per_task,
        "raw_apply_to_start_p50_ms": percentile(latencies, 50),
        "raw_apply_to_start_p99_ms": percentile(latencies, 99),
    }


def run_dual_write(rig: Rig, profile: Profile, progress: Progress) -> dict[str, float]:
    drain = _project_backlog(
        rig, progress, "bench.dual_write", "dual write", profile.dual_write_tasks
    )
    return {
        "dual_write_consume_per_s": drain.per_second,
        "dual_write_worker_cpu_ms_per_task": drain.cpu_ms_per_task,
    }


def run_lean(rig: Rig, profile: Profile, progress: Progress) -> dict[str, float]:
    """The lean yardstick: the dual write's consumer minus SQLAlchemy (raw psycopg)."""
    drain = _project_backlog(rig, progress, "bench.lean", "lean task", profile.lean_tasks)
    return {
        "lean_consume_per_s": drain.per_second,
        "lean_worker_cpu_ms_per_task": drain.cpu_ms_per_task,
    }


def _project_backlog(rig: Rig, progress: Progress, task_name: str, label: str, count: int) -> Drain:
    """``count`` times: commit an order, then ``apply_async`` a task projecting it; then a
    worker starts on that backlog and drains it."""
    ns = rig.namespace
    celery = baseline_worker.build_app(ns.broker_url, ns.key_prefix)
    task = celery.tasks[task_name]
    engine = sa.create_engine(ns.database_url)
    progress.say(f"{label}: {count} x (commit an order, then apply_async), no worker")
    for _ in range(count):
        order_id = str(uuid.uuid4())
        with engine.begin() as conn:
            yardstick_schema.write_order(
                conn, order_id, yardstick_schema.BENCH_USER_ID, sample_order.ITEMS
            )
        task.apply_async(kwargs={"order_id": order_id, "sent_at": time.time()})
    engine.dispose()

    progress.say(f"{label}: starting a worker to consume them")
    name = f"{label.replace(' ', '-')}-worker"
    worker, probe_dir = rig.start_worker(name, "bench.baseline_worker", "bench")
    ready = wait_ready(worker, probe_dir)
    records = wait_for_ends(worker, probe_dir, _is(task_name), count, 300)
    drain = measure(records, ready.fields["cpu"], worker.cpu_seconds())
    rig.processes.stop(worker)
    celery.close()
    progress.say(
        f"{label}: consumed {drain.per_second:.0f}/s, "
        f"{drain.cpu_ms_per_task:.1f} ms worker CPU per task"
    )
    return drain
