"""The event handlers over HTTP: each one's subscription, enabled or why not, its backlog."""

from flask import abort

from app.api import responses
from app.api.auth import Access
from app.api.openapi import ApiBlueprint
from app.application.handler_overview import HandlerOverview
from app.container import container_of

blueprint = ApiBlueprint(
    "handlers",
    __name__,
    url_prefix="/api/handlers",
    access=Access.OPERATIONS,
    description="The event handlers: what each takes, whether it is enabled, its backlog.",
)

SHOWN_NAME_LENGTH = 100
"""An unknown name is quoted back in the 404 up to this many characters."""


@blueprint.route("")
@blueprint.response(200, responses.HandlerListSchema)
def list_handlers() -> dict[str, list[HandlerOverview]]:
    """Every event handler, as `flask handlers list --json` prints them"""
    c = container_of()
    return {"handlers": c.outbox_reader.handlers(c.subscriptions)}


@blueprint.route("/<name>")
@blueprint.response(200, responses.HandlerSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such handler")
def get_handler(name: str) -> HandlerOverview:
    """One event handler by name"""
    c = container_of()
    subscription = c.subscriptions.get(name)
    if subscription is None:
        known = ", ".join(s.spec.name for s in c.subscriptions.all)
        shown = name[:SHOWN_NAME_LENGTH] + ("…" if len(name) > SHOWN_NAME_LENGTH else "")
        abort(404, description=f"no handler is named {shown!r}; the handlers are {known}")
    return c.outbox_reader.handler(subscription)
