"""Redis behind Sentinel loses its master under load; Sentinel promotes the replica.

Replication is asynchronous and nothing is persisted, so the promoted replica may lack
what the master took last (messages queued, acknowledged, restored): the outbox knows
what was not done and publishes it again. Every process reaches Redis only through the
Sentinels (``sentinel://s1;sentinel://s2;sentinel://s3``), as a deployment would.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import outbox
from tests.faults.conftest import Rig, running_rig
from tests.faults.replicated_brokers import SentinelRedisBroker
from tests.support.fixtures import MakeDatabase
from tests.support.outbox import in_broker
from tests.support.redis_sentinel import MASTER_NAME
from tests.support.waiting import wait_until
from tests.support.workload import (
    Workload,
    assert_queries_match,
    cancel_orders,
    create_orders,
    pay_orders,
    register_users,
    ship_orders,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]


@pytest.fixture
def sentinel_rig(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Rig]:
    broker = SentinelRedisBroker(tmp_path / "redis")
    try:
        with running_rig(
            request,
            tmp_path,
            make_database("postgresql"),
            broker,
            broker_sentinel_master=MASTER_NAME,
        ) as rig:
            yield rig
    finally:
        broker.close()


def test_killing_the_redis_master_loses_nothing_once_sentinel_promotes_the_replica(
    sentinel_rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    rig = sentinel_rig
    broker = rig.broker
    assert isinstance(broker, SentinelRedisBroker)
    workload = Workload.generate(users=4, orders=16)
    rig.receiver.respond = lambda _key, _type: (200, 0.15)
    worker, _beat = rig.stack.start_celery(concurrency=2)

    register_users(rig.stack.client, workload)
    create_orders(rig.stack.client, workload)
    wait_until(lambda: len(rig.receiver.arrived) >= 3, timeout=60, what="webhooks in flight")
    queued = in_broker(rig.stack.engine)
    since = worker.log_offset()

    killed_at = broker.group.kill_master()
    pay_orders(rig.stack.client, workload)
    ship_orders(rig.stack.client, workload)
    cancel_orders(rig.stack.client, workload)
    promoted = broker.group.wait_promoted() - killed_at
    worker.wait_for_log(r"Connected to sentinel://", timeout=120, since=since)
    reconnected = time.monotonic() - killed_at
    rig.extra.update(
        queued_at_kill=queued,
        seconds_to_promotion=round(promoted, 2),
        seconds_to_worker_reconnect=round(reconnected, 2),
    )
    rig.verify(expected_dead=0, drain_timeout=180)
    drained = time.monotonic() - killed_at
    assert_queries_match(rig.stack.client, workload)
    assert queued > 0, "the kill should hit a backlog"

    figures = {
        "seconds_to_promotion": round(promoted, 2),
        "seconds_to_worker_reconnect": round(reconnected, 2),
        "seconds_to_drain_after_kill": round(drained, 2),
        "deliveries_published_again": _published_again(rig.stack.engine),
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"redis sentinel failover: {figures}")


def _published_again(engine: sa.Engine) -> int:
    """Deliveries the relay had to publish more than once (what the broker forgot)."""
    with engine.connect() as conn:
        count = conn.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.dispatch_count > 1)
        )
    return int(count or 0)
