"""A cell's processes: one worker (prefork, W pool processes) and R relays, started fresh,
each counting its SQL round trips into a directory of its own."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench import probe, sql_count
from bench.processes import Launched, ProcessFailed
from bench.rig import procfile_worker_queues, wait_ready
from bench.scale.setting import Setting

READY_TIMEOUT = 60.0
READY_LINE = "following the outbox"
"""What ``flask outbox relay --follow`` prints just before its first sweep."""


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

    def records(self) -> list[probe.ProbeRecord]:
        return list(probe.read_records(self.probe_dir))

    def signal_relays(self, signum: int) -> None:
        for relay in self.relays:
            os.kill(relay.pid, signum)


def start(setting: Setting, workers: int, relays: int) -> Processes:
    """Started and ready: every pool process has built its app, every relay follows."""
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
