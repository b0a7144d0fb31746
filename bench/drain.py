"""Reading a drained backlog back from probe records: how fast, and at what CPU cost."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import probe
from bench.numbers import rate
from bench.processes import Launched, ProcessFailed


@dataclass(frozen=True)
class Drain:
    tasks: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return rate(self.tasks, self.seconds)

    @property
    def cpu_ms_per_task(self) -> float:
        return rate(self.cpu_seconds * 1000, self.tasks)


def wait_for_ends(
    worker: Launched,
    probe_dir: Path,
    counts: Callable[[probe.ProbeRecord], bool],
    expected: int,
    timeout: float,
) -> list[probe.ProbeRecord]:
    """Wait until ``expected`` counted tasks have ended; returns every counted record."""
    deadline = time.time() + timeout
    while True:
        worker.check_alive()
        records = [r for r in probe.read_records(probe_dir) if counts(r)]
        if sum(r.kind == "end" for r in records) >= expected:
            return records
        if time.time() >= deadline:
            done = sum(r.kind == "end" for r in records)
            raise ProcessFailed(f"only {done} of {expected} tasks ended within {timeout:.0f}s")
        time.sleep(0.1)


def measure(records: list[probe.ProbeRecord], ready_cpu: float, cpu_now: float) -> Drain:
    """From the first counted start to the last counted end; CPU since the worker was ready."""
    starts = [r.at for r in records if r.kind == "start"]
    ends = [r.at for r in records if r.kind == "end"]
    return Drain(len(ends), max(ends) - min(starts), cpu_now - ready_cpu)
