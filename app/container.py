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
from app.infrastructure.messaging.backfills import Backfills
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.messaging.relay_follower import RelayFollower
from app.infrastructure.metrics.outbox_collector import OutboxCollector
from app.infrastructure.persistence.checkpoints import ProjectionCheckpoints
from app.infrastructure.persistence.dead_letters import DeadLetterStore
from app.infrastructure.persistence.deliveries import SqlDeliveryLedger
from app.infrastructure.persistence.event_log import EventLog
from app.infrastructure.persistence.idempotency import IdempotencyKeys
from app.infrastructure.persistence.ops_sessions import OpsSessions
from app.infrastructure.persistence.outbox_reader import OutboxReader
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork
from app.infrastructure.readiness import Readiness

EXTENSION = "outboxflow"
"""The key under ``Flask.extensions`` where ``bootstrap`` leaves the container."""


@dataclass
class Container:
    """One process's objects, built once by ``bootstrap``; code reaches it via ``container_of``."""

    settings: Settings
    engine: sa.Engine
    session_engine: sa.Engine
    """For LISTEN: ``engine`` unless ``DATABASE_DIRECT_URL`` goes around a pooler."""
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
    reader: sa.Engine
    """``engine`` for connections that only read: on SQLite their transactions start
    deferred, so they never wait for, nor block, a writer. Use it for every read."""
    event_log: EventLog
    """Stored events and their traces, read through ``reader``."""
    checkpoints: ProjectionCheckpoints
    """How far the projections have applied the event store, read through ``reader``."""
    outbox_reader: OutboxReader
    """Backlogs, outbox stats and traces for operators, read through ``reader``."""
    idempotency_keys: IdempotencyKeys
    """Commands' idempotency keys, kept for ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    readiness: Readiness
    """The readiness probe's checks: database, migrations at head, broker."""
    ops_sessions: OpsSessions
    """Ops-page sign-ins, each live for ``OPS_SESSION_HOURS`` unless ended."""
    outbox_collector: OutboxCollector
    """The outbox gauges every handler has, read at each scrape of ``/metrics``."""
    relay_follower: RelayFollower
    """What ``flask outbox relay --follow`` runs: ``relay`` woken by each commit."""
    subscriptions: Subscriptions
    """Every handler, enabled or why not: the units of work write deliveries for the enabled."""
    backfills: Backfills
    """Backfills started over HTTP and run by a worker's ``outbox.backfill`` task, recorded."""


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
