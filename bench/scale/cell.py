"""One cell of the scale-out matrix: W worker processes and R relays, two windows.

The worker and the relays start fresh for the cell and are killed at its end; the web and
the database stay for the whole broker's matrix.

0. **Warm-up**: three create-order commands per worker process, drained, not measured.
1. **Latency**: ``latency_rate`` commands/s (create and pay alternating) for
   ``latency_seconds``, open loop, until every delivery is done: commit → handler start
   p50/p99 over every delivery of those commands (``bench.start_delays``).
2. **Drain**: the relays are paused (SIGSTOP) while ``backlog_commands`` create-order
   commands are posted (8 closed-loop clients), so their deliveries wait ``pending`` in the
   outbox; the relays resume (SIGCONT) at once, and the drain runs from that moment to the
   end of the last delivery's handler task (its ``done`` committed). Over the same window:
   the SQL round trips of the worker and the relays (``bench.sql_count``), WAL bytes and CPU
   of the database's backends (``bench.pg_cost``), and the worker's and relays' CPU.
"""

import os
import time
from typing import Any

from bench import start_delays
from bench.processes import ProcessFailed
from bench.scale import drain, fleet
from bench.scale.fleet import Processes
from bench.scale.setting import DRAIN_TIMEOUT, Setting, post_orders

WARM_UP_COMMANDS_PER_WORKER = 3


def run_cell(setting: Setting, workers: int, relays: int) -> dict[str, Any]:
    """Both windows on fresh processes; the cell's figures (see the module's docstring)."""
    say = setting.progress.say
    started = time.time()
    load_before = os.getloadavg()
    say(f"cell {workers} workers x {relays} relays: starting them")
    processes = fleet.start(setting, workers, relays)
    try:
        _warm_up(setting, processes, workers)
        latency = _latency(setting, processes)
        say(
            f"cell {workers}x{relays}: commit→start p50 {latency['commit_to_start_p50_ms']:.1f}"
            f" ms, p99 {latency['commit_to_start_p99_ms']:.1f} ms"
        )
        figures = drain.measure(setting, processes)
        say(
            f"cell {workers}x{relays}: drained {figures['drain_deliveries']:.0f} deliveries at"
            f" {figures['drain_deliveries_per_s']:.0f}/s;"
            f" {figures['pg_round_trips_per_delivery']:.1f} round trips,"
            f" {figures['pg_wal_bytes_per_delivery']:.0f} WAL bytes"
            f" ({figures['pg_cluster_wal_bytes_per_delivery']:.0f} server-wide),"
            f" {figures['pg_cpu_ms_per_delivery']:.2f} ms PostgreSQL CPU per delivery"
        )
    finally:
        for launched in (processes.worker, *processes.relays):
            setting.rig.processes.stop(launched)
    return {
        "workers": workers,
        "relays": relays,
        "seconds": round(time.time() - started, 1),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        **latency,
        **figures,
    }


def _warm_up(setting: Setting, processes: Processes, workers: int) -> None:
    """A few commands through every process, left out of the figures: a pool child's first
    task opens its database connection and fills the statement caches."""
    post_orders(setting, WARM_UP_COMMANDS_PER_WORKER * workers)
    if setting.watch.wait_drained(DRAIN_TIMEOUT, processes.check_alive) is None:
        raise ProcessFailed("the warm-up's deliveries did not drain")


def _latency(setting: Setting, processes: Processes) -> dict[str, float]:
    profile = setting.profile
    since = time.time()
    result, answers = start_delays.offer_and_drain(
        setting.port,
        setting.user_ids,
        setting.watch,
        processes.check_alive,
        rate=profile.latency_rate,
        seconds=profile.latency_seconds,
        drain_timeout=DRAIN_TIMEOUT,
        what="latency window",
    )
    delays = start_delays.measure(processes.records(), answers, since)
    return start_delays.latency_figures(result, delays, profile.latency_rate)
