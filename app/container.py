"""What one process holds (engine, Celery app, adapters, relay, runner) and how code reaches it.

``app.bootstrap`` builds it; ``container_of`` finds it from the process's Flask app.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from celery import Celery
from flask import Flask

from app.application.deliveries import DeliveryRunner
from app.application.ports import Outbound
from app.config import Settings
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.persistence import backlog, retention
from app.infrastructure.persistence.database import read_only
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

    def purge_done_deliveries(self, older_than: timedelta, batch_size: int = 1000) -> int:
        """Delete done deliveries past retention, one short transaction per batch."""
        return retention.purge_done_deliveries(self.engine, older_than, batch_size)

    def outbox_stats(self) -> dict[str, Any]:
        with read_only(self.engine).connect() as conn:
            return backlog.outbox_stats(conn)


def container_of(app: Flask) -> Container:
    """The container ``bootstrap`` attached to ``app`` (``current_app`` works too).

    Raises at once, naming the app, when it was not built by ``bootstrap``: a Flask app
    made some other way has no adapters to hand out.
    """
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, Container):
        raise RuntimeError(
            f"Flask app {app.name!r} has no outboxflow container: build it with "
            "app.bootstrap.bootstrap() or app.create_app()"
        )
    return found
