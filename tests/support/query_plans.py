"""What a piece of persistence code costs PostgreSQL, statement by statement: the plans and
the buffers EXPLAIN (ANALYZE, BUFFERS) reports, rather than a wall clock.

``measure(engine, run)`` runs ``run(conn)`` once in a transaction it rolls back, records
every statement it sent, then runs each again under EXPLAIN ANALYZE (each in its own
transaction, rolled back too, so a claim's UPDATE changes nothing). ``statements_sent``
and ``explain_each`` do the same for anything that uses the engine (a page request).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class StatementCost:
    sql: str
    buffers: int
    """Shared buffers the execution touched (hit + read), its children's included."""
    examined: int
    """Rows the scans of ``outbox`` produced or removed by a filter: what it looked at."""
    nodes: tuple[str, ...]
    """Every plan node as "<type> on <relation> using <index>", depth first."""

    @property
    def scans_outbox_sequentially(self) -> bool:
        return "Seq Scan on outbox" in self._scans()

    @property
    def reads_outbox(self) -> bool:
        return any(scan.endswith(" on outbox") for scan in self._scans())

    def _scans(self) -> list[str]:
        return [node.split(" using ")[0] for node in self.nodes]

    def indexes(self) -> set[str]:
        return {node.split(" using ")[1] for node in self.nodes if " using " in node}


Sent = list[tuple[str, Any]]
EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


def measure(engine: sa.Engine, run: Callable[[sa.Connection], object]) -> list[StatementCost]:
    """The cost of each statement ``run(conn)`` sends, in order (see the module's doc)."""

    def once() -> None:
        with engine.connect() as conn, conn.begin() as transaction:
            run(conn)
            transaction.rollback()

    return explain_each(engine, statements_sent(engine, once))


def statements_sent(engine: sa.Engine, call: Callable[[], object]) -> Sent:
    """The statements (and their parameters) ``call()`` sends through ``engine``."""
    seen: Sent = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(EXPLAINABLE):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    return seen


def explain_each(engine: sa.Engine, sent: Sent) -> list[StatementCost]:
    """EXPLAIN ANALYZE each statement, each in a transaction rolled back afterwards."""
    with engine.connect() as conn:
        return [_explain(conn, statement, parameters) for statement, parameters in sent]


def _explain(conn: sa.Connection, statement: str, parameters: Any) -> StatementCost:
    with conn.begin() as transaction:
        (document,) = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
        ).scalar_one()
        transaction.rollback()
    plan = document["Plan"]
    nodes = list(_walk(plan))
    examined = sum(
        int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))
        + int(node.get("Rows Removed by Filter", 0))
        + int(node.get("Rows Removed by Index Recheck", 0))
        for node in nodes
        if node.get("Relation Name") == "outbox"
    )
    return StatementCost(
        sql=statement,
        buffers=int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0)),
        examined=examined,
        nodes=tuple(_describe(node) for node in nodes),
    )


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def _describe(node: dict[str, Any]) -> str:
    parts = [str(node["Node Type"])]
    if "Relation Name" in node:
        parts.append(f"on {node['Relation Name']}")
    if "Index Name" in node:
        parts.append(f"using {node['Index Name']}")
    return " ".join(parts)


def as_text(costs: list[StatementCost]) -> str:
    """A readable account of ``costs``, for an assertion's message."""
    return "\n".join(
        f"{c.buffers:>7} buffers {c.examined:>7} rows  {' / '.join(c.nodes)}\n    {c.sql[:300]}"
        for c in costs
    )
