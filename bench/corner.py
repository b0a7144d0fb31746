"""A run's corner of the shared servers, and its guaranteed cleanup.

Every bench run (``python -m bench``, ``python -m bench.scale``) works in a namespace of its
own (a database, a Redis key prefix or RabbitMQ vhost) with a folder for its processes' logs.
Whatever ends the run (a return, an error, Ctrl-C, SIGTERM), every process it started is
killed, the namespace removed and, unless ``keep_logs``, the folder deleted.
"""

import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.namespace import Namespace
from bench.progress import Progress
from bench.rig import Rig


@contextmanager
def corner(broker: str, progress: Progress, prefix: str, keep_logs: bool) -> Iterator[Rig]:
    """The created namespace's ``Rig`` (its ``namespace``, ``work_dir`` and processes)."""
    previous = {
        sig: signal.signal(sig, progress.interrupt) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    namespace = Namespace(broker)
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    rig = Rig(namespace, work_dir)
    try:
        progress.say(f"{broker}: namespace {namespace.name}; logs in {work_dir}")
        namespace.create()
        yield rig
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rig.processes.kill_all()
        _remove_namespace(namespace, progress)
        if not keep_logs:
            shutil.rmtree(work_dir, ignore_errors=True)


def _remove_namespace(namespace: Namespace, progress: Progress) -> None:
    """Drop the run's database and broker keys or vhost, trying three times."""
    for attempt in range(3):
        try:
            namespace.remove()
            return
        except Exception as exc:
            progress.note(f"cleanup of {namespace.name} failed ({exc}); retrying")
            time.sleep(1 + attempt)
