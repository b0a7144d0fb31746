"""The drain window: a backlog released at once to running relays and workers, and what each
of its deliveries cost (``bench.scale.cell`` describes the window)."""

import signal
import time

from bench import sql_count
from bench.numbers import rate
from bench.pg_cost import CostWindow
from bench.processes import ProcessFailed
from bench.product_stack import deliveries, first_starts
from bench.scale.fleet import Processes
from bench.scale.setting import DRAIN_TIMEOUT, Setting, post_orders
from bench.wal_share import WalShare

TRACK_EVERY = 5
"""Polls of the drain (0.1 s each) between two readings of the backends' CPU."""


def measure(setting: Setting, processes: Processes) -> dict[str, float]:
    """Pause the relays, post the backlog, resume them; the drain's figures."""
    watch = setting.watch
    processes.signal_relays(signal.SIGSTOP)
    try:
        posted = post_orders(setting, setting.profile.backlog_commands)
        backlog = watch.sample().unfinished
        cost = CostWindow(setting.rig.namespace.psycopg_dsn, frozenset({watch.backend_pid}))
        cost.open()
        trips_before = processes.round_trips()
        worker_cpu, relay_cpu = processes.worker.cpu_seconds(), processes.relay_cpu()
        released_at = time.time()
    finally:
        processes.signal_relays(signal.SIGCONT)
    polls = 0

    def check() -> None:
        nonlocal polls
        processes.check_alive()
        polls += 1
        if polls % TRACK_EVERY == 0:
            cost.track()

    if watch.wait_drained(DRAIN_TIMEOUT, check) is None:
        raise ProcessFailed(f"the backlog did not drain within {DRAIN_TIMEOUT:.0f}s")
    worker_cpu = processes.worker.cpu_seconds() - worker_cpu
    relay_cpu = processes.relay_cpu() - relay_cpu
    time.sleep(3 * sql_count.FLUSH_SECONDS)
    trips = processes.round_trips() - trips_before
    server = cost.close()
    records = deliveries(processes.records(), released_at)
    ends = [r.at for r in records if r.kind == "end"]
    if not ends:
        raise ProcessFailed("the probe saw no delivery end after the relays resumed")
    seconds = max(ends) - released_at
    copies = sum(r.kind == "start" for r in records) - len(first_starts(records))
    return {
        "drain_commands": float(len(posted.ok)),
        "drain_command_errors": float(posted.errors),
        "drain_deliveries": float(backlog),
        "drain_seconds": seconds,
        "drain_deliveries_per_s": rate(backlog, seconds),
        "drain_extra_copies": float(copies),
        "worker_cpu_ms_per_delivery": rate(worker_cpu * 1000, backlog),
        "relay_cpu_ms_per_delivery": rate(relay_cpu * 1000, backlog),
        "pg_statements_per_delivery": rate(trips.statements, backlog),
        "pg_transactions_per_delivery": rate(trips.transactions, backlog),
        "pg_round_trips_per_delivery": rate(trips.round_trips, backlog),
        **_wal_figures(server.wal, backlog),
        "pg_cluster_wal_bytes_per_delivery": rate(server.cluster_wal_bytes, backlog),
        "pg_cpu_ms_per_delivery": rate(server.backend_cpu_seconds * 1000, backlog),
        "pg_backends": float(server.backends),
        "pg_other_databases_commits": float(server.other_commits),
    }


def _wal_figures(wal: WalShare | None, deliveries: int) -> dict[str, float]:
    """The database's own WAL per delivery: in all, in full-page images, and by record kind."""
    if wal is None:
        return {"pg_wal_bytes_per_delivery": float("nan")}
    return {
        "pg_wal_bytes_per_delivery": rate(wal.total, deliveries),
        "pg_wal_page_image_bytes_per_delivery": rate(wal.page_images, deliveries),
        **{
            f"pg_wal_{rmgr.lower()}_bytes_per_delivery": rate(size, deliveries)
            for rmgr, size in sorted(wal.by_rmgr.items())
        },
    }
