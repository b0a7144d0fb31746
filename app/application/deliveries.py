"""The delivery use case: one outbox delivery, from its message to done, retry or dead.

A delivery moves ``pending → dispatched → running → done``, or through ``retry`` back
to ``running``, or ends ``dead``. An ordered handler's delivery runs only when no earlier
one of its key is open, and releases the next one when it is done. This module is the one
place that moves it:

* the attempt is counted first, committed on its own (so a worker that dies in the
  handler still used one, and a delivery that keeps killing workers is caught);
* the handler, its receipt and ``done`` then commit in the handler's one transaction
  (transactional handlers), or the receipt follows the outside call (external ones);
* every failure goes through the failure policy: retry later, or dead-letter now.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.application.errors import CorruptMessage, StoreUnavailable
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.event_handlers.specs import HandlerSpec
from app.application.failure_policy import AttemptsExhausted, FailurePolicy, GiveUp
from app.application.messages import EventMessage
from app.application.ports import (
    DeadLetter,
    DeliveryLedger,
    FinishDelivery,
    Outbound,
    UnitOfWork,
)

log = logging.getLogger("outboxflow.deliveries")


def idempotency_key(event_id: str, handler: str) -> str:
    """Stable across retries and redeliveries: what external receivers deduplicate on."""
    return f"{event_id}:{handler}"


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


@dataclass
class DeliveryOutcome:
    applied: bool
    new_delivery_ids: list[int] = field(default_factory=list)
    """Deliveries of events the handler caused (reactions); already handed to the broker."""


def apply_delivery(
    spec: HandlerSpec,
    message: EventMessage,
    delivery_id: int,
    uow_factory: Callable[[], UnitOfWork],
    outbound: Outbound,
    finish: FinishDelivery,
    applied_before: bool | None = None,
) -> DeliveryOutcome:
    """Run the handler for one delivery; ``applied`` is False when it already had been.

    ``applied_before`` says whether an external handler already called out for this
    event, when the caller knows (None: a unit of work is opened to ask). An external
    handler's delivery is closed with ``finish`` (the ledger's: one statement), since
    there is nothing of the handler's to commit with it. Every commit carries the context
    this event causes, so a reaction's events name it as their cause.
    Raises whatever the handler raises; the caller decides between retry and dead letter.
    """
    event_id = message.event.event_id
    caused = message.caused_context()
    if spec.transactional is not None:
        with uow_factory() as uow:
            if not uow.receipts.claim(event_id, spec.name):
                uow.receipts.mark_delivery_done(delivery_id)
                uow.commit(caused)
                return DeliveryOutcome(applied=False)
            spec.transactional(message, uow)
            uow.receipts.mark_delivery_done(delivery_id)
            committed = uow.commit(caused)
        return DeliveryOutcome(applied=True, new_delivery_ids=committed.delivery_ids)

    assert spec.external is not None
    if applied_before is not None:
        duplicate = applied_before
    else:
        with uow_factory() as uow:
            duplicate = uow.receipts.already_applied(event_id, spec.name)
    if duplicate:
        finish(delivery_id)
        return DeliveryOutcome(applied=False)
    spec.external(message, outbound, idempotency_key(event_id, spec.name))
    finish(delivery_id, receipt=(event_id, spec.name))
    return DeliveryOutcome(applied=True)


MAX_DELIVERY_ID = 2**63 - 1
"""Delivery ids are 64-bit signed integers (BIGINT); a larger one names no row."""


def _named_delivery(spec: HandlerSpec | None, handler: str, delivery_id: object) -> int | str:
    """The delivery a message names, or why it cannot name one of ours."""
    if spec is None:
        return f"no handler named {handler!r}"
    if not isinstance(delivery_id, int) or isinstance(delivery_id, bool):
        return f"delivery_id must be an integer, got {delivery_id!r}"
    if not 0 < delivery_id <= MAX_DELIVERY_ID:
        return f"delivery_id must be between 1 and {MAX_DELIVERY_ID}, got {delivery_id}"
    return delivery_id


class DeliveryRunner:
    """Runs one delivery message the way the task adapter needs: done, retry, or dead.

    A message is believed only as far as the outbox confirms it: it starts the delivery
    whose row is this handler's delivery of the event the message names, and the handler
    runs on the event as stored, never on the message's copy. A message that names no such
    row is dead-lettered on its own, leaving every row as it was.
    """

    def __init__(
        self,
        ledger: DeliveryLedger,
        uow_factory: Callable[[], UnitOfWork],
        outbound: Outbound,
        policy: FailurePolicy,
        claimed_event_id: Callable[[object], str],
        decode_stored: Callable[[object], EventMessage],
    ) -> None:
        self._ledger = ledger
        self._uow_factory = uow_factory
        self._outbound = outbound
        self.policy = policy
        self._claimed_event_id = claimed_event_id
        self._decode_stored = decode_stored

    def run(self, handler: str, delivery_id: object, envelope: object) -> Outcome:
        """``delivery_id`` and ``envelope`` are as received: anything, until checked here."""
        body = {"delivery_id": delivery_id, "envelope": envelope}
        spec = HANDLERS_BY_NAME.get(handler)
        named = _named_delivery(spec, handler, delivery_id)
        if spec is None or isinstance(named, str):
            return self._dead_letter(CorruptMessage(str(named)), None, handler, body, 1)
        delivery_id = named
        try:
            event_id = self._claimed_event_id(envelope)
        except CorruptMessage as exc:
            return self._dead_letter(exc, None, handler, body, 1)
        try:
            attempt = self._ledger.start_attempt(
                delivery_id, handler, event_id, lease=self.policy.task_lease
            )
        except StoreUnavailable as exc:
            return RetryLater(self.policy.countdown(1), exc)
        if attempt is None:
            return self._missing(handler, delivery_id, event_id, body)
        if (attempt.handler, attempt.event_id) != (handler, event_id):
            mismatch = CorruptMessage(
                f"delivery {delivery_id} is {attempt.handler}'s delivery of event "
                f"{attempt.event_id}, not {handler}'s of {event_id}: "
                "the message does not match the outbox, so nothing was run"
            )
            return self._dead_letter(mismatch, None, handler, body, 1)
        if attempt.status.finished or attempt.stored_event is None:
            # Finished, or held behind an earlier delivery of its ordered key: the relay
            # publishes it again when its turn comes.
            log.info(
                "%s delivery=%s is %s; ignoring this copy",
                handler,
                delivery_id,
                attempt.status,
            )
            return Done(applied=False)
        if attempt.behind is not None:
            return self._hold(handler, delivery_id, attempt.behind)
        limit = self.policy.attempt_limit(spec.max_attempts)
        if attempt.number > limit:
            exhausted = AttemptsExhausted(
                f"{attempt.number - 1} attempts started without finishing "
                "(worker lost or hard time limit)"
            )
            return self._dead_letter(exhausted, delivery_id, handler, body, attempt.number - 1)
        try:
            message = self._decode_stored(attempt.stored_event)
            result = apply_delivery(
                spec,
                message,
                delivery_id,
                self._uow_factory,
                self._outbound,
                self._ledger.finish,
                attempt.applied_before,
            )
        except Exception as exc:
            decision = self.policy.decide(exc, attempt.number, limit)
            if isinstance(decision, GiveUp):
                return self._dead_letter(exc, delivery_id, handler, body, attempt.number)
            return self._retry_later(exc, delivery_id, handler, attempt.number, decision.countdown)
        if spec.ordered:
            self._ledger.release_next(delivery_id)
        log.info(
            "%s %s event=%s delivery=%s attempt=%d correlation=%s causation=%s",
            handler,
            "applied" if result.applied else "skipped duplicate",
            message.event.event_id,
            delivery_id,
            attempt.number,
            message.context.correlation_id,
            message.context.causation_id,
        )
        return Done(applied=result.applied)

    def _hold(self, handler: str, delivery_id: int, behind: int) -> Outcome:
        """Second line of the order: never run a delivery while one ahead of it is open."""
        log.warning(
            "%s delivery=%s started while delivery %s of its key is still open; held back",
            handler,
            delivery_id,
            behind,
        )
        try:
            self._ledger.hold(delivery_id)
        except StoreUnavailable as exc:
            return RetryLater(self.policy.countdown(1), exc)
        return Done(applied=False)

    def _missing(self, handler: str, delivery_id: int, event_id: str, body: Any) -> Outcome:
        """A missing delivery whose receipt exists was done, then deleted by retention.

        Receipts outlive retention, so a copy that turns up that late is recognised as a
        duplicate instead of being dead-lettered as a message for an unknown delivery.
        """
        if self._ledger.applied_before(event_id, handler):
            log.info(
                "%s delivery=%s was applied and has since been purged by retention; "
                "ignoring this late copy",
                handler,
                delivery_id,
            )
            return Done(applied=False)
        reason = CorruptMessage(f"delivery {delivery_id} does not exist")
        return self._dead_letter(reason, None, handler, body, 1)

    def _retry_later(
        self, exc: Exception, delivery_id: int, handler: str, attempt: int, countdown: int
    ) -> RetryLater:
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
            self._ledger.schedule_retry(
                delivery_id, error=error, lease=self.policy.retry_lease(countdown)
            )
        except StoreUnavailable:
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
        dead_letter_id = self._ledger.dead_letter(
            DeadLetter(exc, attempts, delivery_id, handler, body)
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
        return DeadLettered(reason)

    def dead_letter_unroutable(
        self, exc: BaseException, task_name: str | None, body: object
    ) -> None:
        """A message the worker could not even hand to a task (unknown name, bad format)."""
        handler = task_name.removeprefix("handlers.") if task_name else None
        self._dead_letter(exc, None, handler, body, attempts=1)
