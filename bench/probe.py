"""Records when each task starts and ends, from Celery signals, in the worker's processes.

Workers started by the bench (``bench.probe_worker`` for the product, ``bench.baseline_worker``
for raw Celery and the dual write) call ``install()``. Each process appends one JSON line per
event to ``$BENCH_PROBE_DIR/<pid>.jsonl``:

* ``{"k": "ready", "t": …, "cpu": …}`` when the worker is ready (CPU seconds of the worker's
  whole process tree so far, so the bench can leave start-up cost out of per-task CPU);
* ``{"k": "start", "n": task name, "t": time.time(), …}`` from ``task_prerun``: the moment
  before the task function runs. For a product delivery it adds the envelope's ``event_id``,
  ``event_type``, ``aggregate_id`` and ``occurred_at`` (epoch seconds); for a baseline task
  its ``sent_at`` keyword;
* ``{"k": "end", "n": …, "t": …}`` from ``task_postrun``;
* ``{"k": "child", "t": …}`` from ``worker_process_init`` in each pool process, after the
  product's own receiver of that signal (connected first, when ``tasks`` was imported) has
  built the process's app: the pool process is ready for its first task.

Nothing in the product is changed: signals are Celery's public hooks.
"""

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import psutil

PROBE_DIR_ENV = "BENCH_PROBE_DIR"

_files: dict[int, IO[str]] = {}


def _write(record: dict[str, Any]) -> None:
    pid = os.getpid()
    out = _files.get(pid)
    if out is None:
        directory = Path(os.environ[PROBE_DIR_ENV])
        out = (directory / f"{pid}.jsonl").open("a", buffering=1)
        _files[pid] = out
    out.write(json.dumps(record, separators=(",", ":")) + "\n")


def _envelope(args: Any, kwargs: Any) -> dict[str, Any] | None:
    """The first argument that looks like an event envelope (has event_id and occurred_at)."""
    candidates = [*(kwargs or {}).values(), *(args or ())]
    for value in candidates:
        if isinstance(value, dict) and "event_id" in value and "occurred_at" in value:
            return value
    return None


def _epoch(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def task_started(task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    record: dict[str, Any] = {"k": "start", "n": getattr(task, "name", None), "t": 0.0}
    envelope = _envelope(args, kwargs)
    if envelope is not None:
        record["id"] = envelope.get("event_id")
        record["type"] = envelope.get("event_type")
        record["agg"] = envelope.get("aggregate_id")
        record["occ"] = _epoch(envelope.get("occurred_at"))
    elif isinstance(kwargs, dict) and "sent_at" in kwargs:
        record["sent"] = kwargs["sent_at"]
    record["t"] = time.time()
    _write(record)


def task_finished(task: Any = None, **_: Any) -> None:
    _write({"k": "end", "n": getattr(task, "name", None), "t": time.time()})


def worker_is_ready(**_: Any) -> None:
    me = psutil.Process()
    cpu = 0.0
    for proc in (me, *me.children(recursive=True)):
        times = proc.cpu_times()
        cpu += times.user + times.system
    _write({"k": "ready", "t": time.time(), "cpu": cpu})


def child_is_ready(**_: Any) -> None:
    _write({"k": "child", "t": time.time()})


def install() -> None:
    from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready

    task_prerun.connect(task_started, weak=False)
    task_postrun.connect(task_finished, weak=False)
    worker_ready.connect(worker_is_ready, weak=False)
    worker_process_init.connect(child_is_ready, weak=False)


@dataclass(frozen=True)
class ProbeRecord:
    kind: str
    task: str | None
    at: float
    fields: dict[str, Any]


def read_records(directory: Path) -> Iterator[ProbeRecord]:
    """Every record written so far, from every process, in no particular order."""
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            yield ProbeRecord(raw.pop("k"), raw.pop("n", None), raw.pop("t"), raw)
