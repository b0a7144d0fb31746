"""Processes the bench starts: each in its own session, logged to a file, always killed.

Every process is registered in a ``ProcessSet`` the moment it starts; ``ProcessSet.kill_all``
(run from a ``finally``, so on Ctrl-C too) SIGKILLs each one's whole process group, which
takes gunicorn's and Celery's children with it. A child also gets SIGKILL if the bench
itself dies (``PR_SET_PDEATHSIG``).
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()
"""Loaded here, in the parent: the child must not ``dlopen`` between fork and exec, where
another thread of this process may have held the loader's lock when it forked."""


def die_with_parent() -> None:
    """``preexec_fn`` for ``Popen(..., start_new_session=True)``: in the child before exec,
    ask for SIGKILL when the parent dies. The bench and the test suite both start their
    processes this way.

    The death signal follows the *thread* that started the child: start processes from
    the main thread.
    """
    if _LIBC is not None:
        with contextlib.suppress(AttributeError, OSError):
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ProcessFailed(RuntimeError):
    """A process the bench relies on exited, or did not become ready."""


class Launched:
    def __init__(self, name: str, popen: "subprocess.Popen[bytes]", log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise ProcessFailed(
                f"{self.name} exited with status {self.popen.returncode}:\n{self.tail()}"
            )

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and every live descendant (pool children too)."""
        try:
            root = psutil.Process(self.pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


class ProcessSet:
    def __init__(self, log_dir: Path, cwd: Path) -> None:
        self.log_dir = log_dir
        self.cwd = cwd
        self._running: list[Launched] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Launched:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv),
                cwd=self.cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        launched = Launched(name, popen, log_path)
        self._running.append(launched)
        return launched

    def stop(self, launched: Launched) -> None:
        launched.kill()
        if launched in self._running:
            self._running.remove(launched)

    def kill_all(self) -> None:
        while self._running:
            self._running.pop().kill()


def run_to_end(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
) -> tuple[float, str]:
    """Run a command to completion; returns (wall seconds, output). Raises if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise ProcessFailed(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return elapsed, done.stdout
