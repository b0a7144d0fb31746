"""Access to the per-process container and the request's message context."""

from typing import cast
from uuid import UUID

from flask import abort, current_app, g

from app.application.messages import MessageContext
from app.container import Container


def container() -> Container:
    return cast(Container, current_app.extensions["outboxflow"])


def request_context() -> MessageContext:
    """A request's commands are the root of their chain: causation is the request itself."""
    return MessageContext(correlation_id=g.correlation_id, causation_id=g.correlation_id)


def resource_id(value: str, what: str) -> str:
    """Ids are UUIDs; anything else cannot name an existing resource, so it is a 404."""
    try:
        return str(UUID(value))
    except ValueError:
        abort(404, description=f"{what} {value} does not exist")
