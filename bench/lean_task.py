"""The lean yardstick's work: a projection's read and upsert, one transaction, raw psycopg.

What a delivery should cost little more than: no ORM, no SQLAlchemy pool, no outboxflow
code, one connection per process kept open. It reads and writes the same bench tables as the
dual write (``yardstick_schema``) with the same statements, written out by hand.
"""

import json
import os

import psycopg

DSN_ENV = "BENCH_PSYCOPG_DSN"

READ_ORDER = """
SELECT o.user_id, o.status, o.version, i.sku, i.quantity, i.unit_price_cents
FROM bench_orders o JOIN bench_order_items i ON i.order_id = o.id
WHERE o.id = %s
ORDER BY i.line_no
"""

UPSERT_SUMMARY = """
INSERT INTO bench_order_summaries (order_id, user_id, status, total_cents, items, version)
VALUES (%s, %s, %s, %s, %s::jsonb, %s)
ON CONFLICT (order_id) DO UPDATE SET
    user_id = excluded.user_id, status = excluded.status, total_cents = excluded.total_cents,
    items = excluded.items, version = excluded.version
WHERE bench_order_summaries.version <= excluded.version
"""

_connections: dict[int, psycopg.Connection] = {}


def connection() -> psycopg.Connection:
    """One connection per process, opened after the pool forked (a parent's socket must not
    be shared by its children)."""
    pid = os.getpid()
    if pid not in _connections:
        _connections[pid] = psycopg.connect(os.environ[DSN_ENV], autocommit=True)
    return _connections[pid]


def project_order(conn: psycopg.Connection, order_id: str) -> None:
    """Read the order's rows, upsert its summary row, commit: BEGIN, two statements, COMMIT."""
    with conn.transaction(), conn.cursor() as cur:
        rows = cur.execute(READ_ORDER, (order_id,)).fetchall()
        if not rows:
            return
        user_id, status, version = rows[0][:3]
        total = sum(quantity * price for _, _, _, _, quantity, price in rows)
        items = [{"sku": sku, "quantity": quantity} for _, _, _, sku, quantity, _ in rows]
        cur.execute(UPSERT_SUMMARY, (order_id, user_id, status, total, json.dumps(items), version))
