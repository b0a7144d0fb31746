"""Run one delivery the way the task adapter needs: done, retry later, or dead letter.

This is where the delivery guarantees live: attempts are counted before the handler
runs (so a worker that dies mid-handler still used one), failures are classified, and
a delivery we give up on is recorded in the dead-letter store before anything else.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.application.deliveries import apply_delivery
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.ports import Outbound, UnitOfWork
from app.infrastructure.messaging.envelope import Envelope
from app.infrastructure.messaging.errors import CorruptMessage
from app.infrastructure.messaging.failures import is_permanent, retry_countdown
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.persistence import dead_letters, outbox
from app.infrastructure.persistence.receipts import SqlHandlerReceipts

log = logging.getLogger("outboxflow.deliveries")


class AttemptsExhausted(Exception):
    """The delivery started too many times without finishing (worker killed, hard timeout)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base: float
    backoff_cap: float
    task_lease: timedelta
    """How long one attempt may run (the hard time limit plus a margin)."""


@dataclass(frozen=True)
class Done:
    applied: bool


@dataclass(frozen=True)
class RetryLater:
    countdown: int
    error: BaseException


@dataclass(frozen=True)
class DeadLettered:
    reason: str


Outcome = Done | RetryLater | DeadLettered


class DeliveryRunner:
    def __init__(
        self,
        engine: sa.Engine,
        uow_factory: Callable[[], UnitOfWork],
        outbound: Outbound,
        relay: OutboxRelay,
        publisher: CeleryPublisher,
        policy: RetryPolicy,
    ) -> None:
        self._engine = engine
        self._uow_factory = uow_factory
        self._outbound = outbound
        self._relay = relay
        self._publisher = publisher
        self.policy = policy

    def run(self, handler: str, delivery_id: Any, envelope: Any) -> Outcome:
        body = {"delivery_id": delivery_id, "envelope": envelope}
        spec = HANDLERS_BY_NAME.get(handler)
        if spec is None or not isinstance(delivery_id, int) or isinstance(delivery_id, bool):
            reason = (
                f"no handler named {handler!r}"
                if spec is None
                else f"delivery_id must be an integer, got {delivery_id!r}"
            )
            return self._dead_letter(CorruptMessage(reason), None, handler, body, attempts=1)
        try:
            with self._engine.begin() as conn:
                attempt = outbox.begin_attempt(conn, delivery_id, lease=self.policy.task_lease)
        except sa.exc.SQLAlchemyError as exc:
            return RetryLater(self._countdown(1), exc)
        if attempt is None:
            if self._purged_after_applying(handler, envelope):
                log.info(
                    "%s delivery=%s was applied and has since been purged by retention; "
                    "ignoring this late copy",
                    handler,
                    delivery_id,
                )
                return Done(applied=False)
            return self._dead_letter(
                CorruptMessage(f"delivery {delivery_id} does not exist"), None, handler, body, 1
            )
        if attempt.status in ("done", "dead"):
            log.info(
                "%s delivery=%s already %s; ignoring this copy",
                handler,
                delivery_id,
                attempt.status,
            )
            return Done(applied=False)
        max_attempts = self.policy.max_attempts
        if spec.max_attempts is not None:
            max_attempts = min(max_attempts, spec.max_attempts)
        if attempt.number > max_attempts:
            exhausted = AttemptsExhausted(
                f"{attempt.number - 1} attempts started without finishing "
                "(worker lost or hard time limit)"
            )
            return self._dead_letter(exhausted, delivery_id, handler, body, attempt.number - 1)
        try:
            message = Envelope.from_dict(envelope).to_message()
            result = apply_delivery(spec, message, delivery_id, self._uow_factory, self._outbound)
        except Exception as exc:
            if is_permanent(exc) or attempt.number >= max_attempts:
                return self._dead_letter(exc, delivery_id, handler, body, attempt.number)
            return self._retry_later(exc, delivery_id, handler, attempt.number)
        log.info(
            "%s %s event=%s delivery=%s attempt=%d correlation=%s causation=%s",
            handler,
            "applied" if result.applied else "skipped duplicate",
            message.event.event_id,
            delivery_id,
            attempt.number,
            message.correlation_id,
            message.causation_id,
        )
        self._relay.dispatch_now(result.new_delivery_ids)
        return Done(applied=result.applied)

    def _countdown(self, attempt: int) -> int:
        return retry_countdown(attempt, base=self.policy.backoff_base, cap=self.policy.backoff_cap)

    def _retry_later(
        self, exc: Exception, delivery_id: int, handler: str, attempt: int
    ) -> RetryLater:
        countdown = self._countdown(attempt)
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "%s delivery=%s attempt %d failed, retry in %ss: %s",
            handler,
            delivery_id,
            attempt,
            countdown,
            error,
        )
        try:
            with self._engine.begin() as conn:
                outbox.record_failure(
                    conn,
                    delivery_id,
                    error=error,
                    lease=timedelta(seconds=countdown) + self.policy.task_lease,
                )
        except sa.exc.SQLAlchemyError:
            log.warning("could not record the failure of delivery %s", delivery_id, exc_info=True)
        return RetryLater(countdown, exc)

    def _dead_letter(
        self,
        exc: BaseException,
        delivery_id: int | None,
        handler: str | None,
        body: Any,
        attempts: int,
    ) -> DeadLettered:
        envelope = body.get("envelope") if isinstance(body, dict) else None
        event = envelope if isinstance(envelope, dict) else {}
        event_id, event_type = event.get("event_id"), event.get("event_type")
        with self._engine.begin() as conn:
            dead_letter_id = dead_letters.record(
                conn,
                exc=exc,
                attempts=attempts,
                delivery_id=delivery_id,
                handler=handler,
                body=_jsonable(body),
                event_id=event_id if isinstance(event_id, str) else None,
                event_type=event_type if isinstance(event_type, str) else None,
            )
        reason = f"{type(exc).__name__}: {exc}"
        log.error(
            "dead letter %s: %s delivery=%s after %d attempt(s): %s",
            dead_letter_id,
            handler,
            delivery_id,
            attempts,
            reason,
        )
        self._publisher.copy_to_dead_letter_queue(handler, body, reason)
        return DeadLettered(reason)

    def _purged_after_applying(self, handler: str, envelope: Any) -> bool:
        """A missing delivery whose receipt exists was done, then deleted by retention.

        Receipts outlive retention, so a copy that turns up that late is recognised as a
        duplicate instead of being dead-lettered as a message for an unknown delivery.
        """
        event_id = envelope.get("event_id") if isinstance(envelope, dict) else None
        if not isinstance(event_id, str):
            return False
        with self._engine.connect() as conn:
            return SqlHandlerReceipts(conn).already_applied(event_id, handler)

    def dead_letter_unroutable(self, exc: BaseException, task_name: str | None, body: Any) -> None:
        """A message the worker could not even hand to a task (unknown name, bad format)."""
        handler = task_name.removeprefix("handlers.") if task_name else None
        self._dead_letter(exc, None, handler, body, attempts=1)


def _jsonable(value: Any) -> Any:
    """Keep what JSON can hold; describe the rest, so a broken body can still be stored."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)[:2000]
