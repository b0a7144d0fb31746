"""The relay is killed between publishing and marking the rows dispatched."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import Settings
from app.infrastructure.persistence.tables import outbox
from tests.faults.conftest import Rig
from tests.faults.workload import drive_all
from tests.support.outbox import outbox_stats
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]


def _relay_dies_after_publishing(rig: Rig) -> None:
    """One relay sweep in a process of its own, SIGKILLed between publish and mark."""
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.faults.relay_crash"],
        cwd=REPO,
        env=rig.stack.process_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr


def test_relay_killed_between_publish_and_mark(rig: Rig) -> None:
    workload = Workload.generate(users=3, orders=8)
    drive_all(rig.stack.client, workload)
    pending = outbox_stats(rig.stack.container.engine)["pending"]

    _relay_dies_after_publishing(rig)
    with rig.stack.engine.connect() as conn:
        leased = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.status == "pending", outbox.c.claimed_by.is_not(None))
        ).scalar_one()
    held = outbox_stats(rig.stack.container.engine)["waiting"]
    published = sum(rig.stack.queue_depths().values())
    # An ordered handler's later deliveries of a key wait behind its first, unpublished.
    assert held > 0, "forward_to_webhooks holds each order's later events back"
    assert leased + held == pending, "every other row stays pending, leased by the dead relay"
    assert published >= leased, "the dead relay had published them all"

    rig.stack.start_celery(concurrency=2)
    rig.extra.update(relay_kills=1, published_before_kill=published, left_pending=leased)
    rig.verify(expected_dead=0)
    assert_queries_match(rig.stack.client, workload)


@pytest.mark.rig_settings(outbox_claim_lease_seconds=Settings.outbox_claim_lease_seconds)
def test_a_live_relay_publishes_a_dead_relay_s_rows_within_5_s(rig: Rig) -> None:
    """With the default claim lease, counted from when both the crash and a live relay are."""
    drive_all(rig.stack.client, Workload.generate(users=2, orders=4))
    _relay_dies_after_publishing(rig)
    crash_at = time.monotonic()
    rig.stack.start_relay()
    live_at = max(crash_at, time.monotonic())

    wait_until(
        lambda: outbox_stats(rig.stack.container.engine)["pending"] == 0,
        timeout=30,
        what="the dead relay's rows published by the live one",
    )
    took = time.monotonic() - live_at
    rig.extra.update(seconds_after_a_live_relay=round(took, 2))
    assert took <= 5.0, took
    rig.stack.start_worker(concurrency=2, relay=False)
    rig.verify(expected_dead=0)
