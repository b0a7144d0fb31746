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

import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load, probe, sample_order, sql_count, start_delays
from bench.numbers import percentile, rate
from bench.outbox_watch import OutboxWatch
from bench.pg_cost import CostWindow
from bench.processes import Launched, ProcessFailed
from bench.product_stack import deliveries, first_starts
from bench.progress import Progress
from bench.rig import Rig, procfile_worker_queues, wait_ready
from bench.scale.profile import ScaleProfile
from bench.wal_share import WalShare

DRAIN_TIMEOUT = 300.0
READY_TIMEOUT = 60.0
BACKLOG_CLIENTS = 8
WARM_UP_COMMANDS_PER_WORKER = 3
TRACK_EVERY = 5
"""Polls of the drain (0.1 s each) between two readings of the backends' CPU."""
READY_LINE = "following the outbox"
"""What ``flask outbox relay --follow`` prints just before its first sweep."""


@dataclass(frozen=True)
class Setting:
    """What every cell of one broker's matrix shares."""

    rig: Rig
    watch: OutboxWatch
    port: int
    user_ids: list[str]
    """Orders are spread over these users (``bench.load.CreateAndPay`` says why)."""
    profile: ScaleProfile
    progress: Progress


@dataclass
class Processes:
    worker: Launched
    probe_dir: Path
    relays: list[Launched]
    count_dirs: list[Path]

    def check_alive(self) -> None:
        for launched in (self.worker, *self.relays):
            launched.check_alive()

    def round_trips(self) -> sql_count.RoundTrips:
        return sql_count.read_totals(*self.count_dirs)

    def relay_cpu(self) -> float:
        return sum(relay.cpu_seconds() for relay in self.relays)

    def signal_relays(self, signum: int) -> None:
        for relay in self.relays:
            os.kill(relay.pid, signum)


def run_cell(setting: Setting, workers: int, relays: int) -> dict[str, Any]:
    """Both windows on fresh processes; the cell's figures (see the module's docstring)."""
    say = setting.progress.say
    started = time.time()
    load_before = os.getloadavg()
    say(f"cell {workers} workers x {relays} relays: starting them")
    processes = _start(setting, workers, relays)
    try:
        _warm_up(setting, processes, workers)
        latency = _latency(setting, processes)
        say(
            f"cell {workers}x{relays}: commit→start p50 {latency['commit_to_start_p50_ms']:.1f}"
            f" ms, p99 {latency['commit_to_start_p99_ms']:.1f} ms"
        )
        drain = _drain(setting, processes)
        say(
            f"cell {workers}x{relays}: drained {drain['drain_deliveries']:.0f} deliveries at"
            f" {drain['drain_deliveries_per_s']:.0f}/s;"
            f" {drain['pg_round_trips_per_delivery']:.1f} round trips,"
            f" {drain['pg_wal_bytes_per_delivery']:.0f} WAL bytes"
            f" ({drain['pg_cluster_wal_bytes_per_delivery']:.0f} server-wide),"
            f" {drain['pg_cpu_ms_per_delivery']:.2f} ms PostgreSQL CPU per delivery"
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
        **drain,
    }


def _start(setting: Setting, workers: int, relays: int) -> Processes:
    rig = setting.rig
    tag = f"w{workers}-r{relays}-{time.time_ns()}"
    count_dirs = [rig.work_dir / f"sql-{tag}-{n}" for n in range(relays + 1)]
    for directory in count_dirs:
        directory.mkdir()
    worker, probe_dir = rig.start_worker(
        f"worker-{tag}",
        "bench.probe_worker",
        procfile_worker_queues(),
        {sql_count.COUNT_DIR_ENV: str(count_dirs[0])},
        concurrency=workers,
    )
    started = []
    for n in range(1, relays + 1):
        relay = rig.start_relay(f"relay-{tag}-{n}", count_dirs[n])
        if relay is None:
            raise ProcessFailed("the Procfile runs no relay: there is nothing to scale")
        started.append(relay)
    processes = Processes(worker, probe_dir, started, count_dirs)
    wait_ready(worker, probe_dir, READY_TIMEOUT)
    _wait_for_children(worker, probe_dir, workers)
    for relay in started:
        _wait_for_line(relay, READY_LINE)
    return processes


def _wait_for_children(worker: Launched, probe_dir: Path, count: int) -> None:
    """Until every pool process has built its app: on a loaded machine eight of them take
    seconds of CPU, which would otherwise land in the first window."""
    deadline = time.time() + READY_TIMEOUT
    while sum(r.kind == "child" for r in probe.read_records(probe_dir)) < count:
        worker.check_alive()
        if time.time() > deadline:
            raise ProcessFailed(f"{worker.name}: not all {count} pool processes started")
        time.sleep(0.05)


def _wait_for_line(launched: Launched, line: str) -> None:
    deadline = time.time() + READY_TIMEOUT
    while line not in launched.tail(200):
        launched.check_alive()
        if time.time() > deadline:
            raise ProcessFailed(f"{launched.name} never printed {line!r}:\n{launched.tail()}")
        time.sleep(0.05)


def _warm_up(setting: Setting, processes: Processes, workers: int) -> None:
    """A few commands through every process, left out of the figures: a pool child's first
    task opens its database connection and fills the statement caches."""
    _post_orders(setting, WARM_UP_COMMANDS_PER_WORKER * workers)
    if setting.watch.wait_drained(DRAIN_TIMEOUT, processes.check_alive) is None:
        raise ProcessFailed("the warm-up's deliveries did not drain")


def _post_orders(setting: Setting, count: int) -> load.LoadResult:
    """``count`` create-order commands from ``BACKLOG_CLIENTS`` closed-loop clients, the
    users in turn."""
    turn = itertools.count()
    users = setting.user_ids
    return load.closed_loop(
        setting.port,
        lambda: ("/api/orders", sample_order.body(users[next(turn) % len(users)])),
        clients=BACKLOG_CLIENTS,
        seconds=DRAIN_TIMEOUT,
        limit=count,
    )


def _latency(setting: Setting, processes: Processes) -> dict[str, float]:
    profile = setting.profile
    since = time.time()
    result, answers = load.open_loop(
        setting.port,
        load.CreateAndPay(setting.user_ids, sample_order.ITEMS, sample_order.TOTAL),
        rate=profile.latency_rate,
        seconds=profile.latency_seconds,
    )
    if setting.watch.wait_drained(DRAIN_TIMEOUT, processes.check_alive) is None:
        raise ProcessFailed("the outbox did not drain after the latency window")
    delays = start_delays.measure(list_records(processes.probe_dir), answers, since)
    return {
        "latency_offered_per_s": profile.latency_rate,
        "latency_answered_per_s": result.ok_per_second,
        "latency_errors": float(result.errors),
        "latency_deliveries": float(delays.delivered),
        "latency_extra_copies": float(delays.extra_copies),
        "commit_to_start_p50_ms": percentile(delays.commit_ms, 50),
        "commit_to_start_p99_ms": percentile(delays.commit_ms, 99),
        "response_to_start_p50_ms": percentile(delays.response_ms, 50),
        "response_to_start_p99_ms": percentile(delays.response_ms, 99),
    }


def _drain(setting: Setting, processes: Processes) -> dict[str, float]:
    watch = setting.watch
    processes.signal_relays(signal.SIGSTOP)
    try:
        posted = _post_orders(setting, setting.profile.backlog_commands)
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
    records = deliveries(list_records(processes.probe_dir), released_at)
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


def list_records(probe_dir: Path) -> list[probe.ProbeRecord]:
    return list(probe.read_records(probe_dir))
