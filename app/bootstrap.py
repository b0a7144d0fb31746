"""The composition root: the one place that builds a process's objects from Settings.

The web app (``create_app``), the Celery worker, beat and Flower (``tasks.worker_app``) and
the tests all start here. Nothing connects: the engine and the broker connect on first use.
"""

from datetime import timedelta
from functools import partial
from typing import TypedDict, Unpack

import sqlalchemy as sa
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from flask import Flask

from app import logs
from app.application.deliveries import DeliveryRunner
from app.application.event_handlers.registry import HANDLERS
from app.application.event_handlers.subscriptions import Subscriptions
from app.application.failure_policy import FailurePolicy
from app.application.ports import ChatNotifier, EmailSender, Outbound, WebhookSender
from app.config import MIGRATIONS_DIR, Settings, settings_to_start_with
from app.container import EXTENSION, Container
from app.infrastructure.envelope import claimed_event_id, decode_stored
from app.infrastructure.messaging.backfills import Backfills
from app.infrastructure.messaging.broker_kind import is_amqp
from app.infrastructure.messaging.broker_watch import BrokerWatch
from app.infrastructure.messaging.celery_app import (
    BACKFILL_TIME_LIMIT,
    REDIS_VISIBILITY_TIMEOUT,
    build_celery,
    queue_type_arguments,
)
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.messaging.relay_follower import RelayFollower
from app.infrastructure.metrics.outbox_collector import OutboxCollector
from app.infrastructure.notifications.email import MaildirEmailSender, SmtpEmailSender
from app.infrastructure.notifications.webhooks import (
    LoggingChatNotifier,
    SignedWebhookSender,
    SlackWebhookNotifier,
)
from app.infrastructure.persistence.backfill_runs import BackfillRuns
from app.infrastructure.persistence.checkpoints import ProjectionCheckpoints
from app.infrastructure.persistence.database import (
    db,
    engine_options,
    read_only,
    session_engine,
    tune_engine,
)
from app.infrastructure.persistence.dead_letters import DeadLetterStore
from app.infrastructure.persistence.deliveries import SqlDeliveryLedger
from app.infrastructure.persistence.event_log import EventLog
from app.infrastructure.persistence.idempotency import IdempotencyKeys
from app.infrastructure.persistence.ops_sessions import OpsSessions
from app.infrastructure.persistence.outbox_reader import OutboxReader
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.repositories import SqlOrderDirectory, SqlUserDirectory
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork
from app.infrastructure.readiness import Readiness


class Adapters(TypedDict, total=False):
    """The adapters a caller (a test, mostly) may hand in instead of the ones Settings pick."""

    email: EmailSender
    chat: ChatNotifier
    webhooks: WebhookSender
    publisher: CeleryPublisher


def bootstrap(settings: Settings | None = None, **overrides: Unpack[Adapters]) -> Container:
    """Build one process: its Flask app, engine, Celery app, adapters, relay and runner.

    ``settings`` default to the environment's; a malformed one raises ``InvalidSettings``
    and, with ``APP_ENV=production``, settings unfit for it raise ``StartupRefused``: both
    before building anything, both ending the process with a one-line reason. The
    container is left on the Flask app, where ``container_of`` finds it; every Celery task
    runs in that app's context.
    """
    unknown = overrides.keys() - Adapters.__optional_keys__
    if unknown:
        raise TypeError(
            f"bootstrap() has no adapter named {', '.join(sorted(unknown))}; "
            f"it replaces only {', '.join(sorted(Adapters.__optional_keys__))}"
        )
    settings = settings_to_start_with(settings)
    logs.configure(settings)
    flask_app = _flask_app(settings)
    celery = build_celery(settings, flask_app.app_context)
    flask_app.extensions["celery"] = celery
    with flask_app.app_context():
        engine = db.engine
    tune_engine(engine)
    container = _wire(settings, engine, celery, flask_app, overrides)
    flask_app.extensions[EXTENSION] = container
    return container


def _flask_app(settings: Settings) -> Flask:
    """The Flask app every process has: it owns the engine, and tasks run in its context."""
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    # Named after the package, as `Flask(__name__)` in app/__init__.py would be: same root path.
    app = Flask("app", instance_path=str(settings.instance_dir))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(
            settings.database_url, behind_pooler=bool(settings.database_direct_url)
        ),
    )
    db.init_app(app)
    return app


def _wire(
    settings: Settings, engine: sa.Engine, celery: Celery, flask_app: Flask, overrides: Adapters
) -> Container:
    publisher = overrides.get("publisher")
    if publisher is None:
        publisher = CeleryPublisher(
            celery,
            native_dead_lettering=is_amqp(settings.celery_broker_url),
        )
    ledger = SqlDeliveryLedger(engine, publisher.copy_to_dead_letter_queue)
    relay = OutboxRelay(
        engine,
        publisher,
        ledger,
        None
        if settings.task_always_eager
        else BrokerWatch(
            celery,
            engine,
            broker=f"{settings.celery_broker_url}|{settings.broker_key_prefix}",
            queue_arguments=queue_type_arguments(settings),
        ),
        batch_size=settings.outbox_relay_batch,
        claim_lease=timedelta(seconds=settings.outbox_claim_lease_seconds),
        redelivery_after=timedelta(seconds=settings.outbox_redelivery_seconds),
    )
    outbound = _outbound(settings, engine, overrides)
    # Decided once: a handler lacking a setting it requires gets no deliveries here.
    subscriptions = Subscriptions(HANDLERS, settings.is_set)
    # Commands only write; a relay publishes. Eager mode alone (tests) publishes at
    # commit, which runs the handlers inline.
    uow = partial(
        SqlUnitOfWork,
        engine,
        subscriptions,
        relay if settings.task_always_eager else None,
        settings.order_store,
    )
    runner = DeliveryRunner(
        ledger,
        uow,
        outbound,
        failure_policy(settings, celery),
        claimed_event_id,
        decode_stored,
    )
    reader = read_only(engine)
    listening = session_engine(settings.database_direct_url, engine)
    return Container(
        settings,
        engine,
        listening,
        celery,
        flask_app,
        relay,
        runner,
        ledger,
        outbound,
        SqlReadModelQueries(reader),
        DeadLetterStore(engine),
        uow,
        reader,
        EventLog(reader),
        ProjectionCheckpoints(reader, listening=listening),
        OutboxReader(reader),
        IdempotencyKeys(engine, timedelta(hours=settings.idempotency_key_ttl_hours)),
        Readiness(engine, MIGRATIONS_DIR, celery),
        OpsSessions(engine, timedelta(hours=settings.ops_session_hours)),
        OutboxCollector(engine, [spec.name for spec in HANDLERS]),
        RelayFollower(
            relay,
            engine,
            idle_seconds=settings.outbox_relay_interval,
            listening=listening,
            host=settings.host,
        ),
        subscriptions,
        Backfills(
            engine,
            # A run whose task cannot be running any more (past its hard limit) is abandoned.
            BackfillRuns(engine, reader, stale_after=timedelta(seconds=BACKFILL_TIME_LIMIT + 60)),
            subscriptions,
            celery,
        ),
    )


def _outbound(settings: Settings, engine: sa.Engine, overrides: Adapters) -> Outbound:
    """The handlers' way out: SMTP or a maildir, Slack or the log, signed webhooks."""
    email = overrides.get("email")
    if email is None:
        email = (
            SmtpEmailSender(settings.smtp_url)
            if settings.smtp_url
            else MaildirEmailSender(settings.instance_dir / "maildir")
        )
    chat = overrides.get("chat")
    if chat is None:
        chat = (
            SlackWebhookNotifier(settings.slack_webhook_url)
            if settings.slack_webhook_url
            else LoggingChatNotifier()
        )
    webhooks = overrides.get("webhooks")
    if webhooks is None:
        webhooks = SignedWebhookSender(settings.webhook_urls, settings.webhook_secret)
    return Outbound(
        email=email,
        chat=chat,
        webhooks=webhooks,
        directory=SqlUserDirectory(read_only(engine)),
        orders=SqlOrderDirectory(read_only(engine)),
    )


def failure_policy(settings: Settings, celery: Celery) -> FailurePolicy:
    """Backoff never outlives the Redis visibility timeout (past it the message loops)."""
    hard_limit = int(celery.conf.task_time_limit or 300)
    cap = min(
        settings.outbox_retry_backoff_max_seconds,
        REDIS_VISIBILITY_TIMEOUT - hard_limit - settings.outbox_lease_margin_seconds,
    )
    return FailurePolicy(
        max_attempts=settings.outbox_max_attempts,
        backoff_base=settings.outbox_retry_backoff_seconds,
        backoff_cap=max(1, cap),
        task_lease=timedelta(seconds=hard_limit + settings.outbox_lease_margin_seconds),
        always_transient=(SoftTimeLimitExceeded,),
    )
