"""Query endpoints: read projections only."""

from typing import Any

from flask import abort

from app.api import consistency, presenters, responses
from app.api.auth import Access
from app.api.context import container, resource_ids
from app.api.openapi import ApiBlueprint
from app.application import queries

blueprint = ApiBlueprint(
    "queries",
    __name__,
    url_prefix="/api",
    access=Access.API,
    description="Queries: read the projections, which follow the events shortly after commit.",
)

SERVED_BY = {
    "get_order": ("project_order_summary",),
    "get_user": ("project_user_profile", "project_order_summary"),
    "list_user_orders": ("project_user_profile", "project_order_summary"),
}
"""The projections each answer reads: what ``X-Min-Position`` waits for."""
consistency.install(blueprint, SERVED_BY)
LAGGING = "projection_lagging: not at X-Min-Position in time (Retry-After)"


@blueprint.route("/orders/<order_id>")
@resource_ids(order_id="order")
@blueprint.response(200, responses.OrderSummarySchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="not (yet) projected")
@blueprint.alt_response(503, schema=responses.ErrorSchema, description=LAGGING)
def get_order(order_id: str) -> dict[str, Any]:
    """One order, as projected"""
    summary = queries.get_order(container().queries, order_id)
    if summary is None:
        abort(404, description=f"order {order_id} does not exist (or is not projected yet)")
    return presenters.order_summary(summary)


@blueprint.route("/users/<user_id>")
@resource_ids(user_id="user")
@blueprint.response(200, responses.UserProfileSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="not (yet) projected")
@blueprint.alt_response(503, schema=responses.ErrorSchema, description=LAGGING)
def get_user(user_id: str) -> dict[str, Any]:
    """One user's profile: orders, spending, loyalty points"""
    profile = queries.get_user(container().queries, user_id)
    if profile is None:
        abort(404, description=f"user {user_id} does not exist (or is not projected yet)")
    return presenters.user_profile(profile)


@blueprint.route("/users/<user_id>/orders")
@resource_ids(user_id="user")
@blueprint.response(200, responses.OrderSummarySchema(many=True))
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="not (yet) projected")
@blueprint.alt_response(503, schema=responses.ErrorSchema, description=LAGGING)
def list_user_orders(user_id: str) -> list[dict[str, Any]]:
    """A user's orders"""
    orders = queries.list_user_orders(container().queries, user_id)
    if orders is None:
        abort(404, description=f"user {user_id} does not exist (or is not projected yet)")
    return [presenters.order_summary(o) for o in orders]
