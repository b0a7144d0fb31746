"""What one process holds (engine, Celery app, adapters, relay, runner) and how code reaches it.

Plain wiring, no behaviour: ``app.bootstrap`` builds it; ``container_of`` finds it from the
process's Flask app; callers use its parts.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from celery import Celery
from flask import Flask, current_app

from app.application.deliveries import DeliveryRunner
from app.application.event_handlers.subscriptions import Subscriptions
from app.application.ports import Outbound
from app.config import Settings
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.persistence.dead_letters import DeadLetterStore
from app.infrastructure.persistence.deliveries import SqlDeliveryLedger
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork

EXTENSION = "outboxflow"
"""The key under ``Flask.extensions`` where ``bootstrap`` leaves the container."""


@dataclass
class Container:
    """One process's objects, built once by ``bootstrap``; code reaches it via ``container_of``."""

    settings: Settings
    engine: sa.Engine
    celery: Celery
    flask_app: Flask
    relay: OutboxRelay
    runner: DeliveryRunner
    ledger: SqlDeliveryLedger
    outbound: Outbound
    queries: SqlReadModelQueries
    dead_letters: DeadLetterStore
    uow: Callable[[], SqlUnitOfWork]
    """A fresh unit of work: its commit writes deliveries ``pending`` for a relay."""
    subscriptions: Subscriptions
    """Every handler, enabled or why not: the units of work write deliveries for the enabled."""


def container_of(app: Flask | None = None) -> Container:
    """The container ``bootstrap`` attached to ``app``, or to the current app (inside a
    request, a task, a ``flask`` command): the one way code reaches it.

    Raises at once, naming the app, when it was not built by ``bootstrap``: a Flask app
    made some other way has no adapters to hand out.
    """
    app = current_app if app is None else app
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, Container):
        raise RuntimeError(
            f"Flask app {app.name!r} has no outboxflow container: build it with "
            "app.bootstrap.bootstrap() or app.create_app()"
        )
    return found
