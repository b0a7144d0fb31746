"""Query endpoints: read projections only."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import abort
from marshmallow import Schema

from app.api import consistency, responses
from app.api.auth import Access
from app.api.context import rule_ids
from app.api.openapi import HEADER_NAMES, RETRY_AFTER, ApiBlueprint
from app.application import queries
from app.application.read_models import OrderSummary, UserProfileView
from app.container import container_of

Found = TypeVar("Found")
View = TypeVar("View", bound=Callable[..., Any])

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
UNSEEN = "not (yet) projected"
NOT_A_POSITION = (
    "validation_failed: X-Min-Position is not a position, or is past the newest event "
    "(the message says which is the newest)"
)


def _query(rule: str, reply: Schema | type[Schema]) -> Callable[[View], View]:
    """A query endpoint: a GET route, its path ids, the reply schema, and its refusals
    (404 until the answer is projected, 422 for a position no command answered with, 503
    while the projection lags)."""

    def decorate(view: View) -> View:
        view = blueprint.alt_response(
            503,
            schema=responses.ErrorSchema,
            description=LAGGING,
            headers={HEADER_NAMES[RETRY_AFTER]: RETRY_AFTER},
        )(view)
        view = blueprint.alt_response(
            422, schema=responses.ErrorSchema, description=NOT_A_POSITION
        )(view)
        view = blueprint.alt_response(404, schema=responses.ErrorSchema, description=UNSEEN)(view)
        view = blueprint.response(200, reply)(view)
        return blueprint.route(rule)(rule_ids(rule)(view))

    return decorate


@_query("/orders/<order_id>", responses.OrderSummarySchema)
def get_order(order_id: str) -> OrderSummary:
    """One order, as projected"""
    return _projected(queries.get_order(container_of().queries, order_id), f"order {order_id}")


@_query("/users/<user_id>", responses.UserProfileSchema)
def get_user(user_id: str) -> UserProfileView:
    """One user's profile: orders, spending, loyalty points"""
    return _projected(queries.get_user(container_of().queries, user_id), f"user {user_id}")


@_query("/users/<user_id>/orders", responses.OrderSummarySchema(many=True))
def list_user_orders(user_id: str) -> Sequence[OrderSummary]:
    """A user's orders"""
    return _projected(queries.list_user_orders(container_of().queries, user_id), f"user {user_id}")


def _projected(found: Found | None, what: str) -> Found:
    """The read model, or 404: it does not exist, or its projection has not caught up yet."""
    if found is None:
        abort(404, description=f"{what} does not exist (or is not projected yet)")
    return found
