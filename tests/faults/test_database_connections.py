"""PostgreSQL terminates the workers' connections mid-transaction."""

import threading

import psycopg
import pytest

from tests.faults.conftest import POSTGRES_COMBOS, Rig
from tests.faults.workload import drive_all
from tests.support.databases import POSTGRES_ADMIN_DSN
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
WORKER_APP_NAME = "of_fault_worker"


class BackendTerminator(threading.Thread):
    """Every ``interval`` seconds, terminate the worker's backends that are mid-transaction."""

    def __init__(self, database: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self._database = database
        self._interval = interval
        self._halt = threading.Event()
        self.terminated = 0

    def run(self) -> None:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            while not self._halt.wait(self._interval):
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = %s AND xact_start IS NOT NULL",
                    (self._database, WORKER_APP_NAME),
                ).fetchall()
                self.terminated += sum(1 for (ok,) in rows if ok)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=10)
        return self.terminated


@pytest.mark.parametrize("rig", POSTGRES_COMBOS, indirect=True)
def test_worker_connections_terminated_mid_transaction(rig: Rig) -> None:
    workload = Workload.generate(users=4, orders=12)
    url = f"{rig.stack.database.url}?application_name={WORKER_APP_NAME}"
    rig.stack.start_celery(concurrency=2, worker_env={"DATABASE_URL": url})

    terminator = BackendTerminator(rig.stack.database.name)
    terminator.start()
    try:
        drive_all(rig.stack.client, workload)
        wait_until(lambda: terminator.terminated >= 5, timeout=15, what="5 terminations")
    finally:
        terminated = terminator.stop()

    rig.extra.update(connections_terminated=terminated)
    assert terminated > 0, "no worker transaction was caught in flight"
    rig.verify(expected_dead=0)
    assert_queries_match(rig.stack.client, workload)
