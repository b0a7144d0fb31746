"""The composition root: the one place that wires adapters to the application."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from app.application import command_handlers
from app.application.deliveries import DeliveryRunner
from app.application.event_handlers.registry import subscribers
from app.application.failure_policy import FailurePolicy
from app.application.messages import MessageContext
from app.application.ports import ChatNotifier, EmailSender, Outbound
from app.config import Settings
from app.domain.commands import Command
from app.infrastructure.messaging.broker_watch import BrokerWatch
from app.infrastructure.messaging.celery_app import REDIS_VISIBILITY_TIMEOUT
from app.infrastructure.messaging.codec import decode_message
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.notifications.email import MaildirEmailSender, SmtpEmailSender
from app.infrastructure.notifications.slack import LoggingChatNotifier, SlackWebhookNotifier
from app.infrastructure.notifications.webhooks import SignedWebhookSender
from app.infrastructure.persistence import outbox
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.dead_letters import DeadLetterStore
from app.infrastructure.persistence.deliveries import SqlDeliveryLedger
from app.infrastructure.persistence.directory import SqlUserDirectory
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: sa.Engine
    celery: Celery
    relay: OutboxRelay
    runner: DeliveryRunner
    ledger: SqlDeliveryLedger
    outbound: Outbound
    queries: SqlReadModelQueries
    dead_letters: DeadLetterStore

    def uow(self) -> SqlUnitOfWork:
        """A fresh unit of work whose commit also publishes its deliveries (best effort)."""
        return SqlUnitOfWork(self.engine, subscribers, self.relay, self.settings.order_store)

    def run_command(
        self,
        command: Command,
        context: MessageContext,
        before_commit: Callable[[SqlUnitOfWork, Any], None] | None = None,
    ) -> Any:
        """``before_commit(uow, result)`` writes in the command's transaction (its reply, say)."""
        uow = self.uow()
        hook = None if before_commit is None else partial(before_commit, uow)
        return command_handlers.execute(command, uow, context, hook)

    def purge_done_deliveries(self, older_than: timedelta, batch_size: int = 1000) -> int:
        """Delete done deliveries past retention, one short transaction per batch."""
        total = 0
        while True:
            with self.engine.begin() as conn:
                deleted = outbox.purge_done(conn, older_than=older_than, batch_size=batch_size)
            total += deleted
            if deleted < batch_size:
                if total:
                    log.info(
                        "retention: deleted %d done deliveries older than %s", total, older_than
                    )
                return total

    def outbox_stats(self) -> dict[str, Any]:
        with read_only(self.engine).connect() as conn:
            return outbox.stats(conn)


def build_container(settings: Settings, engine: sa.Engine, celery: Celery) -> Container:
    email: EmailSender = (
        SmtpEmailSender(settings.smtp_url)
        if settings.smtp_url
        else MaildirEmailSender(settings.instance_dir / "maildir")
    )
    chat: ChatNotifier = (
        SlackWebhookNotifier(settings.slack_webhook_url)
        if settings.slack_webhook_url
        else LoggingChatNotifier()
    )
    publisher = CeleryPublisher(
        celery, native_dead_lettering=settings.celery_broker_url.startswith(("amqp", "pyamqp"))
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
        ),
        batch_size=settings.outbox_relay_batch,
        claim_lease=timedelta(seconds=settings.outbox_claim_lease_seconds),
        redelivery_after=timedelta(seconds=settings.outbox_redelivery_seconds),
    )
    outbound = Outbound(
        email=email,
        chat=chat,
        webhooks=SignedWebhookSender(settings.webhook_urls, settings.webhook_secret),
        directory=SqlUserDirectory(read_only(engine)),
    )
    runner = DeliveryRunner(
        ledger,
        partial(SqlUnitOfWork, engine, subscribers, relay, settings.order_store),
        outbound,
        failure_policy(settings, celery),
        decode_message,
    )
    return Container(
        settings,
        engine,
        celery,
        relay,
        runner,
        ledger,
        outbound,
        SqlReadModelQueries(read_only(engine)),
        DeadLetterStore(engine),
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
