"""A worker consumer that dead-letters messages it cannot even decode.

Celery's default logs such a message and acknowledges it, so it vanishes. Ours records
it in the dead-letter store first, then rejects it without requeue (RabbitMQ's
dead-letter exchange takes it; on Redis the store's record is what remains).
"""

import logging
from typing import Any

from celery.worker.consumer import Consumer

from app.application.errors import CorruptMessage

log = logging.getLogger(__name__)


class DeadLetteringConsumer(Consumer):
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        from tasks.worker_app import build_worker

        flask_app, _celery = build_worker()
        reason = CorruptMessage(
            f"cannot decode the message body ({message.content_type}, "
            f"{message.content_encoding}): {exc}"
        )
        try:
            with flask_app.app_context():
                flask_app.extensions["outboxflow"].runner.dead_letter_unroutable(
                    reason,
                    (message.headers or {}).get("task"),
                    {"raw_body": repr(message.body)[:2000]},
                )
        except Exception:
            log.exception("could not record an undecodable message as a dead letter")
        finally:
            message.reject_log_error(log, self.connection_errors, requeue=False)
