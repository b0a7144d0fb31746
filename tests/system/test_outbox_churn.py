"""Under churn the outbox stays the same size: retention deletes what each round added,
and the vacuum that ends the purge lets the next round reuse the space.

Ten rounds, each one retention interval: 15,000 deliveries written and moved to done, the
round older than the window (three rounds) purged. Index pages the vacuum deleted are
reused only once no snapshot anywhere on the server can see them, so a long transaction in
another test's database shows as deleted index pages, which the size bounds leave out and
the figures report. The same churn with the purge's vacuum
left out shows what happens when nothing vacuums: with autovacuum off (as on the CI
server) the heap grows by a round's worth every round, most of it free room nobody reuses.
Figures go to the run's summary (and docs/operations.md).
"""

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence import retention
from tests.support.fixtures import MakeDatabase, MakeEngine, add_summary_line
from tests.support.outbox_churn import RoundFigures, churn

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

ROUNDS = 10
EVENTS_PER_ROUND = 5_000
RETAIN_ROUNDS = 3
WARM_UP = 4
"""Rounds before the first purge's space is reused: the heap stops growing there."""
HEAP_GROWTH = 1.05
TOTAL_GROWTH = 1.5
"""The indexes settle more slowly than the heap: their freed pages are reused a round later."""
SETTLED_GROWTH = 1.05
"""The last three rounds against the largest the table was before them: settled."""


def _report(request: pytest.FixtureRequest, label: str, figures: list[RoundFigures]) -> None:
    for f in figures:
        add_summary_line(request.node, f"outbox churn: {label}", f.line())


def _autovacuum(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW autovacuum").scalar_one())


def test_retention_keeps_the_outbox_size_bounded_under_churn(
    request: pytest.FixtureRequest, make_database: MakeDatabase, make_engine: MakeEngine
) -> None:
    engine = make_engine(make_database("postgresql"))
    figures = churn(
        engine, rounds=ROUNDS, events_per_round=EVENTS_PER_ROUND, retain_rounds=RETAIN_ROUNDS
    )
    _report(request, f"purge + vacuum (autovacuum {_autovacuum(engine)})", figures)

    warm = figures[WARM_UP - 1]
    account = "\n".join(f.line() for f in figures)
    retained = RETAIN_ROUNDS * EVENTS_PER_ROUND * 3
    assert all(f.live_rows <= retained for f in figures), account
    assert all(f.dead_tuples <= retained // 5 for f in figures), account
    assert all(f.heap_bytes <= HEAP_GROWTH * warm.heap_bytes for f in figures), account
    assert all(f.kept_bytes <= TOTAL_GROWTH * warm.kept_bytes for f in figures), account
    settled = max(f.kept_bytes for f in figures[WARM_UP - 1 : -3])
    assert all(f.kept_bytes <= SETTLED_GROWTH * settled for f in figures[-3:]), account


def test_without_a_vacuum_the_same_churn_grows_the_outbox(
    request: pytest.FixtureRequest,
    make_database: MakeDatabase,
    make_engine: MakeEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the purge's vacuum is for, where autovacuum is off: the table grows every round.

    Page pruning turns most dead row versions into free room inside their pages, but only
    a vacuum records that room in the free space map, so inserts keep extending the heap.

    Where autovacuum is on, it may come round during the churn; the figures say so.
    """
    engine = make_engine(make_database("postgresql"))
    monkeypatch.setattr(retention, "vacuum_outbox", lambda _engine: None)
    figures = churn(
        engine, rounds=ROUNDS, events_per_round=EVENTS_PER_ROUND, retain_rounds=RETAIN_ROUNDS
    )
    autovacuum = _autovacuum(engine)
    _report(request, f"purge only (autovacuum {autovacuum})", figures)
    if autovacuum == "off":
        account = "\n".join(f.line() for f in figures)
        assert figures[-1].total_bytes > 2 * figures[WARM_UP - 1].total_bytes, account
        assert figures[-1].free_bytes > 2 * figures[WARM_UP - 1].free_bytes, account
