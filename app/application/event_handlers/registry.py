"""The one explicit list of event handlers: each handler module's ``HANDLERS``, joined here.

Nothing registers itself: a handler runs because its module's tuple names it and this
module names that tuple. ``tests/unit/test_wire_names_snapshot.py`` holds the result
against the committed snapshot of names, queues and subscriptions.
"""

from app.application.event_handlers import integrations, notifications, projections, reactions
from app.application.event_handlers.specs import HandlerSpec

HANDLERS: tuple[HandlerSpec, ...] = (
    *projections.HANDLERS,
    *reactions.HANDLERS,
    *notifications.HANDLERS,
    *integrations.HANDLERS,
)

HANDLERS_BY_NAME: dict[str, HandlerSpec] = {spec.name: spec for spec in HANDLERS}
HANDLER_QUEUES: tuple[str, ...] = tuple(sorted({spec.queue for spec in HANDLERS}))


def subscribers(event_type: str) -> list[str]:
    """Names of the handlers declared for events of this type, enabled or not: the wire
    contract's subscriptions. Which of them a process writes deliveries for depends on its
    settings: ask its ``Subscriptions`` (``Container.subscriptions``)."""
    return [spec.name for spec in HANDLERS if event_type in spec.event_types]
