"""Scenario 3: the relay is killed between publishing and marking the rows dispatched."""

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import outbox
from tests.faults.conftest import Rig
from tests.faults.workload import drive_all
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]


def test_relay_killed_between_publish_and_mark(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = Workload.generate(users=3, orders=8)
    # Only the relay publishes in this scenario: no immediate dispatch after commit.
    monkeypatch.setattr(rig.stack.container.relay, "dispatch_lease", lambda: None)
    drive_all(rig.stack.client, workload)
    pending = rig.stack.container.outbox_stats()["pending"]

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
    with rig.stack.engine.connect() as conn:
        leased = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.status == "pending", outbox.c.claimed_by.is_not(None))
        ).scalar_one()
    published = sum(rig.stack.queue_depths().values())
    assert leased == pending, "every row stays pending, leased by the dead relay"
    assert published >= pending, "the dead relay had published them all"

    rig.stack.start_worker(concurrency=2)
    rig.stack.start_beat()
    rig.extra.update(relay_kills=1, published_before_kill=published, left_pending=leased)
    rig.verify(expected_dead=0)
    assert_queries_match(rig.stack.client, workload)
