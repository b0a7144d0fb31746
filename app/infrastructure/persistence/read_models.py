"""Projection tables: version-guarded upserts on the write path, plain reads for queries."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.application.read_models import OrderSummary, UserProfile, UserProfileView
from app.domain.events import LineItem
from app.domain.money import format_money, from_cents, to_cents
from app.infrastructure.persistence.sql import upsert
from app.infrastructure.persistence.tables import order_summaries, user_profiles

SPENDING_STATUSES = ("paid", "shipped")


def order_summary_row(summary: OrderSummary) -> dict[str, Any]:
    return {
        "order_id": summary.order_id,
        "user_id": summary.user_id,
        "status": summary.status,
        "total_cents": to_cents(summary.total),
        "items": [
            {"sku": i.sku, "quantity": i.quantity, "unit_price": format_money(i.unit_price)}
            for i in summary.items
        ],
        "version": summary.version,
        "currency": summary.currency,
    }


def user_profile_row(profile: UserProfile) -> dict[str, Any]:
    return {
        "user_id": profile.user_id,
        "email": profile.email,
        "name": profile.name,
        "loyalty_points": profile.loyalty_points,
        "version": profile.version,
    }


def upsert_newer(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows, or update those whose stored version is older; one statement."""
    if not rows:
        return
    (key,) = [column.name for column in table.primary_key.columns]
    statement = upsert(conn, table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={name: statement.excluded[name] for name in rows[0] if name != key},
            where=table.c.version < statement.excluded.version,
        ),
        rows,
    )


_STORED_PROFILE = sa.select(user_profiles).where(user_profiles.c.user_id == sa.bindparam("user_id"))


class SqlProjectionWriter:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def upsert_order_summary(self, summary: OrderSummary) -> None:
        upsert_newer(self._conn, order_summaries, [order_summary_row(summary)])

    def upsert_user_profile(self, profile: UserProfile) -> None:
        upsert_newer(self._conn, user_profiles, [user_profile_row(profile)])

    def user_profile(self, user_id: str) -> UserProfile | None:
        row = self._conn.execute(_STORED_PROFILE, {"user_id": user_id}).first()
        return None if row is None else UserProfile(**row._mapping)

    def clear(self) -> None:
        self._conn.execute(order_summaries.delete())
        self._conn.execute(user_profiles.delete())


def _summary(row: Any) -> OrderSummary:
    return OrderSummary(
        order_id=row.order_id,
        user_id=row.user_id,
        status=row.status,
        total=from_cents(row.total_cents),
        items=tuple(
            LineItem(sku=i["sku"], quantity=i["quantity"], unit_price=Decimal(i["unit_price"]))
            for i in row.items
        ),
        version=row.version,
        currency=row.currency,
    )


class SqlReadModelQueries:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def order_summary(self, order_id: str) -> OrderSummary | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(order_summaries).where(order_summaries.c.order_id == order_id)
            ).first()
        return None if row is None else _summary(row)

    def user_profile(self, user_id: str) -> UserProfileView | None:
        spent = sa.func.coalesce(
            sa.func.sum(
                sa.case(
                    (
                        order_summaries.c.status.in_(SPENDING_STATUSES),
                        order_summaries.c.total_cents,
                    ),
                    else_=0,
                )
            ),
            0,
        )
        with self._engine.connect() as conn:
            profile = conn.execute(
                sa.select(user_profiles).where(user_profiles.c.user_id == user_id)
            ).first()
            if profile is None:
                return None
            count, spent_cents = conn.execute(
                sa.select(sa.func.count(), spent).where(order_summaries.c.user_id == user_id)
            ).one()
        return UserProfileView(
            user_id=profile.user_id,
            email=profile.email,
            name=profile.name,
            order_count=count,
            total_spent=from_cents(int(spent_cents)),
            loyalty_points=profile.loyalty_points,
        )

    def user_orders(self, user_id: str) -> Sequence[OrderSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(order_summaries)
                .where(order_summaries.c.user_id == user_id)
                .order_by(order_summaries.c.order_id)
            ).all()
        return [_summary(row) for row in rows]
