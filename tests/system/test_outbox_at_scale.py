"""The polled paths cost the same over a million retained deliveries as over ten thousand.

Two PostgreSQL databases are seeded with the same open backlog, dead letters and skipped
deliveries, one with ~8,000 done deliveries and one with ~1,000,000 (``outbox_seeding``).
Every statement of the relay's claim and poll, the ordering rule's read, the stats, the
metrics scrape and the ops page is run under EXPLAIN (ANALYZE, BUFFERS) on both: no
sequential scan of the outbox at a million rows, a partial index read, and the buffers
touched and rows examined within a small factor of the small database's. Two more seeds
(100,000 deliveries, 400 or 13,000 of them dead or skipped) show that the claim and the poll
read no dead or skipped delivery either. The figures go to the
run's summary (and docs/performance.md).

Seeding a million deliveries takes ~45 s on a 2-core machine; the databases are dropped
afterwards (~470 MB while they live).
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.event_handlers.registry import HANDLERS
from app.container import container_of
from app.infrastructure.persistence import backlog, ordering
from app.infrastructure.persistence import outbox as outbox_queries
from app.infrastructure.persistence.tables import dead_letters, outbox
from tests.support.fixtures import MakeDatabase, MakeEngine, add_summary_line
from tests.support.inprocess import build_app
from tests.support.outbox_seeding import WEBHOOKS, OutboxMix, seed_outbox
from tests.support.query_plans import (
    StatementCost,
    as_text,
    explain_each,
    measure,
    statements_sent,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

SMALL = OutboxMix(deliveries=10_000, dead=300, skipped=100, backlog_keys=200)
LARGE = replace(SMALL, deliveries=1_000_000)
FEW_DEAD = replace(SMALL, deliveries=100_000)
MANY_DEAD = replace(FEW_DEAD, dead=10_000, skipped=3_000)
BUFFER_FACTOR = 2.0
"""A million rows add a level to the B-trees (a buffer per lookup), nothing that scales."""
BUFFER_SLACK = 50
PARTIAL_INDEXES = {
    "ix_outbox_claimable",
    "ix_outbox_unfinished",
    "ix_outbox_unfinished_by_handler",
    "ix_outbox_ordered_open",
}
CLAIM_LIMIT = 500
Run = Callable[[sa.Connection], object]


def _ordered_keys(conn: sa.Connection) -> list[tuple[str, str]]:
    """The backlog's keys of the ordered webhook forwarder (what a relay settles)."""
    rows = conn.execute(
        sa.select(outbox.c.handler, outbox.c.order_key)
        .where(outbox.c.handler == WEBHOOKS, outbox.c.status == "waiting")
        .distinct()
        .limit(100)
    )
    return [(row.handler, row.order_key) for row in rows]


def _settle_read(conn: sa.Connection) -> object:
    return ordering.settle(conn, _ordered_keys(conn))


RELAY: dict[str, Run] = {
    "relay claim": lambda conn: outbox_queries.claim(
        conn, token="relay", lease=timedelta(seconds=30), limit=CLAIM_LIMIT
    ),
    "relay has_pending": outbox_queries.has_pending,
    "ordering.settle": _settle_read,
    "ordering.stranded_keys": ordering.stranded_keys,
    "outbox_stats": backlog.outbox_stats,
    "handler_backlogs": lambda conn: backlog.handler_backlogs(conn, [s.name for s in HANDLERS]),
    "parked_keys": backlog.parked_keys,
    "live_dead_letters": backlog.live_dead_letters,
}
CLAIM_PATHS = ("relay claim", "relay has_pending")


def _pages(app: Flask) -> dict[str, str]:
    """The ops pages an operator opens, and the endpoints tools poll."""
    with container_of(app).engine.connect() as conn:
        parked_head = conn.execute(
            sa.select(dead_letters.c.id, dead_letters.c.event_id)
            .join(outbox, outbox.c.id == dead_letters.c.delivery_id)
            .where(outbox.c.handler == WEBHOOKS, dead_letters.c.status == "dead")
            .order_by(dead_letters.c.id.desc())
            .limit(1)
        ).one()
    return {
        "GET /ops": "/ops",
        "GET /ops/dead-letters": "/ops/dead-letters",
        "GET /ops/dead-letters/<id>": f"/ops/dead-letters/{parked_head.id}",
        "GET /ops/events/<id>": f"/ops/events/{parked_head.event_id}",
        "GET /api/outbox/stats": "/api/outbox/stats",
        "GET /metrics": "/metrics",
    }


def _costs(engine: sa.Engine, app: Flask) -> dict[str, list[StatementCost]]:
    costs = {name: measure(engine, run) for name, run in RELAY.items()}
    client = app.test_client()
    for name, path in _pages(app).items():

        def get(path: str = path) -> None:
            assert client.get(path).status_code == 200, path

        get()  # warm: the first request builds what later ones reuse
        costs[name] = explain_each(engine, statements_sent(container_of(app).engine, get))
    return costs


def _seeded(
    mix: OutboxMix, make_database: MakeDatabase, make_engine: MakeEngine, tmp_path: Path
) -> dict[str, list[StatementCost]]:
    database = make_database("postgresql")
    engine = make_engine(database)
    seed_outbox(engine, mix)
    app = build_app(tmp_path / database.name, eager=False, database_url=database.url)
    try:
        return _costs(engine, app)
    finally:
        container_of(app).engine.dispose()


def _total(costs: list[StatementCost]) -> tuple[int, int]:
    return sum(c.buffers for c in costs), sum(c.examined for c in costs)


def test_polled_queries_cost_the_same_at_a_million_deliveries(
    request: pytest.FixtureRequest,
    make_database: MakeDatabase,
    make_engine: MakeEngine,
    tmp_path: Path,
) -> None:
    small = _seeded(SMALL, make_database, make_engine, tmp_path)
    large = _seeded(LARGE, make_database, make_engine, tmp_path)

    for name, costs in large.items():
        small_buffers, small_rows = _total(small[name])
        large_buffers, large_rows = _total(costs)
        add_summary_line(
            request.node,
            "outbox at 10k vs 1M deliveries (buffers, outbox rows examined)",
            f"{name:<28} {small_buffers:>7} → {large_buffers:>7} buffers"
            f"   {small_rows:>6} → {large_rows:>6} rows",
        )
        account = f"{name}\n10k:\n{as_text(small[name])}\n1M:\n{as_text(costs)}"
        assert not any(c.scans_outbox_sequentially for c in costs), account
        for cost in (c for c in costs if c.reads_outbox):
            point_lookup = {"pk_outbox", "uq_outbox_event_handler"} & cost.indexes()
            assert cost.indexes() & PARTIAL_INDEXES or point_lookup, account
        assert large_buffers <= BUFFER_FACTOR * small_buffers + BUFFER_SLACK, account
        assert large_rows <= BUFFER_FACTOR * small_rows + BUFFER_SLACK, account


def test_the_claim_and_the_poll_never_read_dead_or_skipped_history(
    request: pytest.FixtureRequest,
    make_database: MakeDatabase,
    make_engine: MakeEngine,
    tmp_path: Path,
) -> None:
    """Thirty times the dead and skipped deliveries: the relay reads exactly as much.

    The stats and the ops page count dead and skipped deliveries, so they read them: the
    summary shows by how much (they wait for an operator's purge, docs/operations.md).
    """
    few = _seeded(FEW_DEAD, make_database, make_engine, tmp_path)
    many = _seeded(MANY_DEAD, make_database, make_engine, tmp_path)
    for name, costs in many.items():
        (few_buffers, few_rows), (many_buffers, many_rows) = _total(few[name]), _total(costs)
        add_summary_line(
            request.node,
            "outbox at 400 vs 13,000 dead or skipped of 100k (buffers, outbox rows examined)",
            f"{name:<28} {few_buffers:>7} → {many_buffers:>7} buffers"
            f"   {few_rows:>6} → {many_rows:>6} rows",
        )
    for name in CLAIM_PATHS:
        account = f"{name}\nfew dead:\n{as_text(few[name])}\nmany dead:\n{as_text(many[name])}"
        assert _total(many[name])[1] == _total(few[name])[1], account
        assert "ix_outbox_claimable" in many[name][0].indexes(), account
