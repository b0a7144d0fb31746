"""Killing worker processes: one pool child, all of them, or the whole worker."""

import random
import signal
import threading

import psutil

from tests.support.processes import ManagedProcess


def pool_children(worker: ManagedProcess) -> list[psutil.Process]:
    if worker.pid is None or not worker.running:
        return []
    try:
        return psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_pool_children(worker: ManagedProcess, *, at_most: int | None = None) -> int:
    """SIGKILL pool children (all, or ``at_most`` picked at random); returns how many died."""
    children = pool_children(worker)
    random.shuffle(children)
    killed = 0
    for child in children[:at_most]:
        try:
            child.send_signal(signal.SIGKILL)
            killed += 1
        except psutil.NoSuchProcess:
            pass
    return killed


class ChildKiller(threading.Thread):
    """Kills one random pool child of the current worker every ``min..max`` seconds."""

    def __init__(self, worker: ManagedProcess, *, every: tuple[float, float], seed: int) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self._every = every
        self._rng = random.Random(seed)
        self._halt = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self._halt.wait(self._rng.uniform(*self._every)):
            self.kills += kill_pool_children(self.worker, at_most=1)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=10)
        return self.kills
