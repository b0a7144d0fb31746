"""The outbox relay: claim due deliveries, publish each as a task, then mark them.

No transaction is open while the broker is being talked to: claiming commits a lease
first, publishing happens outside, and marking is a second short transaction. A relay
that dies in between leaves leased rows that the next sweep takes again once the lease
expires; the handler's receipt makes that second publish harmless.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import sqlalchemy as sa

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.infrastructure.messaging.errors import CorruptMessage
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.persistence import dead_letters, outbox

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    claimed: int = 0
    published: int = 0
    failed: int = 0

    def add(self, other: "RelayReport") -> None:
        self.claimed += other.claimed
        self.published += other.published
        self.failed += other.failed


class OutboxRelay:
    def __init__(
        self,
        engine: sa.Engine,
        publisher: CeleryPublisher,
        *,
        batch_size: int,
        claim_lease: timedelta,
        redelivery_after: timedelta,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch_size = batch_size
        self._claim_lease = claim_lease
        self._redelivery_after = redelivery_after
        self._immediate_paused_until = 0.0

    IMMEDIATE_PAUSE_SECONDS = 5.0
    """After a failed immediate publish, requests stop trying (and waiting) for a while."""

    def sweep(self, *, time_budget: float = 5.0) -> RelayReport:
        """Publish due deliveries batch after batch until none is left or time is up."""
        report = RelayReport()
        deadline = time.monotonic() + time_budget
        while True:
            batch = self._run(ids=None, fail_fast=False)
            report.add(batch)
            if batch.failed or batch.claimed < self._batch_size or time.monotonic() > deadline:
                return report

    def dispatch_now(self, delivery_ids: Sequence[int]) -> RelayReport:
        """Best-effort immediate publish after a commit; the sweep is the guarantee."""
        if not delivery_ids or time.monotonic() < self._immediate_paused_until:
            return RelayReport()
        try:
            report = self._run(ids=delivery_ids, fail_fast=True)
        except Exception:
            log.warning("immediate dispatch failed; the relay will retry", exc_info=True)
            report = RelayReport(failed=len(delivery_ids))
        if report.failed:
            self._immediate_paused_until = time.monotonic() + self.IMMEDIATE_PAUSE_SECONDS
        return report

    def _run(self, *, ids: Sequence[int] | None, fail_fast: bool) -> RelayReport:
        token = uuid4().hex
        limit = len(ids) if ids is not None else self._batch_size
        with self._engine.begin() as conn:
            claimed = outbox.claim(conn, token=token, lease=self._claim_lease, limit=limit, ids=ids)
        orphans = [d for d in claimed if d.handler not in HANDLERS_BY_NAME]
        if orphans:
            self._dead_letter_orphans(orphans)
            claimed = [d for d in claimed if d.handler in HANDLERS_BY_NAME]
        published: list[int] = []
        try:
            with self._publisher.session(fail_fast=fail_fast) as session:
                for delivery in claimed:
                    session.publish(delivery)
                    published.append(delivery.delivery_id)
        except Exception as exc:
            log.warning(
                "publishing stopped after %d of %d deliveries: %s",
                len(published),
                len(claimed),
                exc,
            )
        finally:
            done = set(published)
            unpublished = [d.delivery_id for d in claimed if d.delivery_id not in done]
            with self._engine.begin() as conn:
                outbox.mark_dispatched(
                    conn, published, token=token, redelivery_after=self._redelivery_after
                )
                outbox.release(conn, unpublished, token=token)
        return RelayReport(
            len(claimed) + len(orphans), len(published), len(claimed) - len(published)
        )

    def _dead_letter_orphans(self, orphans: Sequence[outbox.ClaimedDelivery]) -> None:
        """Deliveries for a handler that no longer exists can never run: say so, loudly."""
        with self._engine.begin() as conn:
            for d in orphans:
                log.error("delivery %s names unknown handler %r", d.delivery_id, d.handler)
                dead_letters.record(
                    conn,
                    exc=CorruptMessage(f"no handler named {d.handler!r} is registered"),
                    attempts=0,
                    delivery_id=d.delivery_id,
                    handler=d.handler,
                    body={"delivery_id": d.delivery_id, "envelope": d.envelope.to_dict()},
                    event_id=d.envelope.event_id,
                    event_type=d.envelope.event_type,
                )
