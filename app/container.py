"""The composition root: the one place that wires adapters to the application."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from celery import Celery

from app.application import command_handlers
from app.application.deliveries import apply_delivery
from app.application.event_handlers.registry import HANDLERS_BY_NAME, subscribers
from app.application.messages import MessageContext
from app.application.ports import ChatNotifier, EmailSender, Outbound
from app.config import Settings
from app.domain.commands import Command
from app.infrastructure.messaging.envelope import Envelope
from app.infrastructure.messaging.errors import CorruptMessage
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.notifications.email import MaildirEmailSender, SmtpEmailSender
from app.infrastructure.notifications.slack import LoggingChatNotifier, SlackWebhookNotifier
from app.infrastructure.notifications.webhooks import SignedWebhookSender
from app.infrastructure.persistence import outbox
from app.infrastructure.persistence.directory import SqlUserDirectory
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.unit_of_work import SqlUnitOfWork

log = logging.getLogger("outboxflow.deliveries")


@dataclass
class Container:
    settings: Settings
    engine: sa.Engine
    celery: Celery
    relay: OutboxRelay
    outbound: Outbound
    queries: SqlReadModelQueries

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, subscribers)

    def run_command(self, command: Command, context: MessageContext) -> Any:
        """Commit the command, then try to publish its deliveries at once (best effort)."""
        uow = self.uow()
        result = command_handlers.execute(command, uow, context)
        self.relay.dispatch_now(uow.committed_delivery_ids)
        return result

    def apply(self, handler: str, delivery_id: int, envelope: object) -> bool:
        """Run one delivery; the Celery task adapter's whole job is to call this."""
        spec = HANDLERS_BY_NAME.get(handler)
        if spec is None:
            raise CorruptMessage(f"no handler named {handler!r}")
        message = Envelope.from_dict(envelope).to_message()
        outcome = apply_delivery(spec, message, delivery_id, self.uow, self.outbound)
        log.info(
            "%s %s event=%s delivery=%s correlation=%s causation=%s",
            handler,
            "applied" if outcome.applied else "skipped duplicate",
            message.event.event_id,
            delivery_id,
            message.correlation_id,
            message.causation_id,
        )
        self.relay.dispatch_now(outcome.new_delivery_ids)
        return outcome.applied

    def outbox_stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
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
    relay = OutboxRelay(
        engine,
        CeleryPublisher(celery),
        batch_size=settings.outbox_relay_batch,
        claim_lease=timedelta(seconds=settings.outbox_claim_lease_seconds),
        redelivery_after=timedelta(seconds=settings.outbox_redelivery_seconds),
    )
    outbound = Outbound(
        email=email,
        chat=chat,
        webhooks=SignedWebhookSender(settings.webhook_urls, settings.webhook_secret),
        directory=SqlUserDirectory(engine),
    )
    return Container(settings, engine, celery, relay, outbound, SqlReadModelQueries(engine))
