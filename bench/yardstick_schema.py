"""The bench's own tables for the yardsticks (bare endpoint, naive dual write).

Same shape as the product's ``users``/``orders``/``order_items``/``order_summaries`` rows, but
owned by the bench, so the yardsticks never depend on the product's schema. They live in the
bench's throwaway database beside the product's tables.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

metadata = sa.MetaData()

users = sa.Table(
    "bench_users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

orders = sa.Table(
    "bench_orders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("bench_users.id"), nullable=False, index=True
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

order_items = sa.Table(
    "bench_order_items",
    metadata,
    sa.Column("order_id", sa.String(36), sa.ForeignKey("bench_orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
)

order_summaries = sa.Table(
    "bench_order_summaries",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("items", JSONB, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

BENCH_USER_ID = "00000000-0000-4000-8000-00000000be4c"


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            pg_insert(users).values(id=BENCH_USER_ID, name="bench").on_conflict_do_nothing()
        )


def write_order(
    conn: sa.Connection, order_id: str, user_id: str, items: Sequence[dict[str, Any]]
) -> int:
    """The order row and its item rows (what a create-order command stores); returns the total."""
    rows = [
        {
            "order_id": order_id,
            "line_no": n,
            "sku": item["sku"],
            "quantity": item["quantity"],
            "unit_price_cents": int(Decimal(str(item["unit_price"])) * 100),
        }
        for n, item in enumerate(items, start=1)
    ]
    conn.execute(orders.insert().values(id=order_id, user_id=user_id, status="created", version=1))
    conn.execute(order_items.insert(), rows)
    return sum(r["quantity"] * r["unit_price_cents"] for r in rows)


def project_order(conn: sa.Connection, order_id: str) -> None:
    """A projection's database work: read the order's rows, upsert its summary row."""
    rows = conn.execute(
        sa.select(orders.c.user_id, orders.c.status, orders.c.version, order_items)
        .join(order_items, order_items.c.order_id == orders.c.id)
        .where(orders.c.id == order_id)
        .order_by(order_items.c.line_no)
    ).all()
    if not rows:
        return
    summary = {
        "order_id": order_id,
        "user_id": rows[0].user_id,
        "status": rows[0].status,
        "total_cents": sum(r.quantity * r.unit_price_cents for r in rows),
        "items": [{"sku": r.sku, "quantity": r.quantity} for r in rows],
        "version": rows[0].version,
    }
    upsert = pg_insert(order_summaries).values(**summary)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[order_summaries.c.order_id],
            set_={k: upsert.excluded[k] for k in summary if k != "order_id"},
            where=order_summaries.c.version <= upsert.excluded.version,
        )
    )
