"""Read models to JSON. Money is always a decimal string."""

from typing import Any

from app.application.read_models import OrderSummary, UserProfileView
from app.domain.money import format_money


def order_summary(summary: OrderSummary) -> dict[str, Any]:
    return {
        "order_id": summary.order_id,
        "user_id": summary.user_id,
        "status": summary.status,
        "total": format_money(summary.total),
        "currency": summary.currency,
        "items": [
            {"sku": i.sku, "quantity": i.quantity, "unit_price": format_money(i.unit_price)}
            for i in summary.items
        ],
        "version": summary.version,
    }


def user_profile(profile: UserProfileView) -> dict[str, Any]:
    return {
        "user_id": profile.user_id,
        "email": profile.email,
        "name": profile.name,
        "order_count": profile.order_count,
        "total_spent": format_money(profile.total_spent),
        "loyalty_points": profile.loyalty_points,
    }
