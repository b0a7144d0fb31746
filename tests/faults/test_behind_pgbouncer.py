"""The web, the worker, beat and the relay on PostgreSQL through PgBouncer's transaction pooling.

Each transaction may run on another server connection, so nothing may rely on a session:
psycopg's prepared statements are off on pooled connections, and the two LISTENs (the
following relay's wake-ups, a read-your-writes wait) go around the pooler, to
``DATABASE_DIRECT_URL``. The workload runs through gunicorn and the test client alike.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.faults.brokers import PrivateRedis
from tests.faults.conftest import Rig, running_rig
from tests.faults.workload import drive_all
from tests.support.databases import Database
from tests.support.fixtures import MakeDatabase
from tests.support.pgbouncer import PgBouncer
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


@pytest.fixture
def pooled_rig(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[tuple[Rig, PgBouncer, Database]]:
    direct = make_database("postgresql")
    pooler = PgBouncer().start()
    broker = PrivateRedis(tmp_path / "broker")
    pooled = Database(direct.kind, pooler.url_for(direct.url), direct.name)
    try:
        with running_rig(request, tmp_path, pooled, broker, database_direct_url=direct.url) as rig:
            yield rig, pooler, direct
    finally:
        broker.close()
        pooler.close()


def test_every_process_works_through_a_transaction_pooler(
    pooled_rig: tuple[Rig, PgBouncer, Database],
) -> None:
    rig, pooler, database = pooled_rig
    rig.stack.start_celery(concurrency=2)
    _web, base_url = rig.stack.start_web(workers=2)
    workload = Workload.generate(users=4, orders=12)

    drive_all(rig.stack.client, workload)
    rig.verify(expected_dead=0, drain_timeout=120)
    assert_queries_match(rig.stack.client, workload)

    created = requests.post(
        f"{base_url}/api/users",
        json={"email": "pooled@example.com", "name": "Pooled"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    position = created.headers["X-Event-Position"]
    user_id = created.json()["user_id"]
    seen = requests.get(
        f"{base_url}/api/users/{user_id}", headers={"X-Min-Position": position}, timeout=20
    )
    assert seen.status_code == 200, seen.text
    rig.stack.wait_drained(timeout=60)

    carried = pooler.transactions(database.name)
    assert carried > 500, f"only {carried} transactions went through the pooler"
    print(f"behind pgbouncer: {carried} transactions through the pooler")
