"""The harness itself: skip-or-fail policy, bounded waits, processes that always stop."""

import sys
import time
from pathlib import Path

import pytest

from tests.support.brokers import redis_ping
from tests.support.databases import PostgresAdmin
from tests.support.processes import ManagedProcess, ProcessDied
from tests.support.services import FLAG, free_port, service_unavailable
from tests.support.waiting import WaitTimeout, wait_until

pytestmark = pytest.mark.system


def python_process(tmp_path: Path, code: str) -> ManagedProcess:
    return ManagedProcess(
        "probe",
        [sys.executable, "-c", code],
        env={"PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
        log_path=tmp_path / "probe.log",
    )


def test_a_missing_server_skips_unless_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    reasons = [
        PostgresAdmin(f"host=127.0.0.1 port={port} user=postgres dbname=postgres").ping(),
        redis_ping(f"redis://127.0.0.1:{port}/0"),
    ]
    assert all(reasons), reasons

    monkeypatch.delenv(FLAG, raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        service_unavailable(str(reasons[0]))
    monkeypatch.setenv(FLAG, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{FLAG}=1"):
        service_unavailable(str(reasons[0]))


def test_wait_until_gives_up_at_its_deadline_and_says_why() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="the impossible; state: still false"):
        wait_until(
            lambda: False, timeout=0.3, what="the impossible", describe=lambda: "state: still false"
        )
    assert time.monotonic() - started < 2


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    process = python_process(
        tmp_path,
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up'); time.sleep(60)",
    ).start()
    process.wait_for_log("up", timeout=10)

    started = time.monotonic()
    status = process.stop(timeout=0.5)

    assert status == -9
    assert time.monotonic() - started < 5
    assert not process.running


def test_waiting_for_a_log_line_fails_at_once_when_the_process_exits(tmp_path: Path) -> None:
    process = python_process(tmp_path, "print('starting'); raise SystemExit(3)").start()

    with pytest.raises(ProcessDied, match=r"exited \(3\)"):
        process.wait_for_log("ready", timeout=30)
    with pytest.raises(ProcessDied, match="starting"):
        process.check_alive()
