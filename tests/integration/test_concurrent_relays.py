"""Two beats (or overlapping sweeps) must be harmless: no delivery is published twice.

Several relays, each with its own engine (its own connections, as separate processes
would have), sweep the same few thousand pending deliveries at once. A recording
publisher notes every publish; each delivery must appear exactly once. Leases are then
shown to govern re-claiming both ways: held leases block it, expired ones allow it.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.persistence import outbox as outbox_queries
from app.infrastructure.persistence import relay_heartbeats
from app.infrastructure.persistence.deliveries import SqlDeliveryLedger
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import outbox
from app.infrastructure.persistence.tables import relay_heartbeats as relay_heartbeats_table
from tests.support.db_state import table_rows
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine
from tests.support.relays import PublishLog, RecordingPublisher, seed_pending_deliveries
from tests.support.waiting import wait_until

RELAYS = 4
EVENTS = 1000  # x3 subscribers of user.registered = 3000 deliveries


def make_relay(
    engine: sa.Engine,
    log: PublishLog,
    name: str,
    *,
    batch_size: int = 50,
    redelivery_after: timedelta = timedelta(minutes=5),
    delay: float = 0.0,
) -> OutboxRelay:
    publisher = RecordingPublisher(log, name, delay=delay)
    return OutboxRelay(
        engine,
        publisher,  # type: ignore[arg-type]
        SqlDeliveryLedger(engine, lambda *_: None),
        None,
        batch_size=batch_size,
        claim_lease=timedelta(seconds=30),
        redelivery_after=redelivery_after,
    )


@pytest.mark.parametrize("db", ["postgresql", "sqlite"])
def test_concurrent_relays_publish_every_delivery_exactly_once(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    database = make_database(db)
    seeded = seed_pending_deliveries(make_engine(database), EVENTS)
    log = PublishLog()
    relays = [
        make_relay(make_engine(database), log, f"relay-{n}", delay=0.0002) for n in range(RELAYS)
    ]
    start = threading.Barrier(RELAYS)

    def run(relay: OutboxRelay) -> int:
        start.wait(timeout=30)
        sweeps = 0
        while relay.sweep(time_budget=1.0).claimed:
            sweeps += 1
        return sweeps

    with ThreadPoolExecutor(RELAYS) as pool:
        list(pool.map(run, relays, timeout=120))

    assert log.duplicates() == {}, "a delivery was published by more than one relay"
    assert sorted(log.ids) == seeded, "every pending delivery is published"
    assert len(log.per_relay()) >= 2, f"the relays did not overlap: {log.per_relay()}"
    rows = table_rows(relays[0]._engine, outbox)
    assert {(r["status"], r["dispatch_count"]) for r in rows} == {("dispatched", 1)}
    assert [relay.sweep().claimed for relay in relays] == [0] * RELAYS, (
        "dispatched rows are leased; nobody may claim them again yet"
    )


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_leases_decide_when_a_delivery_may_be_claimed_again(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    database = make_database(db)
    engine = make_engine(database)
    seeded = set(seed_pending_deliveries(engine, 100))
    # Far enough apart that the sweep which takes the crashed relay's rows cannot also find
    # the live relay's own published rows due again, however late a loaded machine runs it.
    crashed_lease, redelivery = 1.5, 5.0
    with engine.begin() as conn:
        claimed = outbox_queries.claim(
            conn, token="crashed-relay", lease=timedelta(seconds=crashed_lease), limit=90
        )
    held_by_crashed = {d.delivery_id for d in claimed}
    claimed_at = time.monotonic()
    log = PublishLog()
    relay = make_relay(engine, log, "live", redelivery_after=timedelta(seconds=redelivery))

    relay.sweep()
    assert set(log.ids) == seeded - held_by_crashed, "rows leased by another relay were taken"
    assert relay.sweep().claimed == 0
    assert time.monotonic() - claimed_at < crashed_lease, "too slow to prove the lease held"

    wait_until(
        lambda: relay.sweep().published,
        timeout=crashed_lease + 5,
        what="the crashed relay's lease to expire",
    )
    assert sorted(log.ids[-len(held_by_crashed) :]) == sorted(held_by_crashed)
    assert log.duplicates() == {}

    def republished() -> bool:
        relay.sweep()
        return len(log.ids) == 2 * len(seeded)

    wait_until(republished, timeout=redelivery + 5, what="dispatched rows to be redelivered")
    assert set(log.duplicates().values()) == {2}
    counts = {r["dispatch_count"] for r in table_rows(engine, outbox)}
    assert counts == {2}


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_the_beat_sweep_stands_down_only_while_a_following_relay_beats(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    engine = make_engine(make_database(db))
    seeded = seed_pending_deliveries(engine, 2)
    log = PublishLog()
    beat_sweep = make_relay(engine, log, "beat")

    def last_beat(seconds_ago: float) -> None:
        with engine.begin() as conn:
            relay_heartbeats.beat(conn, "host-a")
            conn.execute(
                sa.update(relay_heartbeats_table).values(
                    beat_at=utcnow() - timedelta(seconds=seconds_ago)
                )
            )

    last_beat(0.5)
    assert beat_sweep.safety_net_sweep().claimed == 0 and not log.ids
    last_beat(OutboxRelay.FOLLOWED_WITHIN_SECONDS + 2)
    assert beat_sweep.safety_net_sweep().published == len(seeded)
    with engine.begin() as conn:
        conn.execute(sa.delete(relay_heartbeats_table))
    seed_pending_deliveries(engine, 1)
    assert beat_sweep.safety_net_sweep().published > 0, "no relay ever ran: it sweeps"
