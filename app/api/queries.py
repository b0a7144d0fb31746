"""Query endpoints: read projections only."""

from flask import Blueprint, Response, abort, jsonify

from app.api import consistency, presenters
from app.api.context import container, resource_id
from app.application import queries

blueprint = Blueprint("queries", __name__, url_prefix="/api")

SERVED_BY = {
    "get_order": ("project_order_summary",),
    "get_user": ("project_user_profile", "project_order_summary"),
    "list_user_orders": ("project_user_profile", "project_order_summary"),
}
"""The projections each answer reads: what ``X-Min-Position`` waits for."""
consistency.install(blueprint, SERVED_BY)


@blueprint.get("/orders/<order_id>")
def get_order(order_id: str) -> Response:
    order_id = resource_id(order_id, "order")
    summary = queries.get_order(container().queries, order_id)
    if summary is None:
        abort(404, description=f"order {order_id} does not exist (or is not projected yet)")
    return jsonify(presenters.order_summary(summary))


@blueprint.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    user_id = resource_id(user_id, "user")
    profile = queries.get_user(container().queries, user_id)
    if profile is None:
        abort(404, description=f"user {user_id} does not exist (or is not projected yet)")
    return jsonify(presenters.user_profile(profile))


@blueprint.get("/users/<user_id>/orders")
def list_user_orders(user_id: str) -> Response:
    user_id = resource_id(user_id, "user")
    orders = queries.list_user_orders(container().queries, user_id)
    if orders is None:
        abort(404, description=f"user {user_id} does not exist (or is not projected yet)")
    return jsonify([presenters.order_summary(o) for o in orders])
