"""Queries read projections only: never the event store, never the aggregates."""

from collections.abc import Sequence

from app.application.ports import ReadModelQueries
from app.application.read_models import OrderSummary, UserProfileView


def get_order(queries: ReadModelQueries, order_id: str) -> OrderSummary | None:
    return queries.order_summary(order_id)


def get_user(queries: ReadModelQueries, user_id: str) -> UserProfileView | None:
    return queries.user_profile(user_id)


def list_user_orders(queries: ReadModelQueries, user_id: str) -> Sequence[OrderSummary] | None:
    """None when the user is not (yet) projected, so callers can answer 404."""
    if queries.user_profile(user_id) is None:
        return None
    return queries.user_orders(user_id)
