"""The outbox relay: claim due deliveries, publish each batch as tasks, then mark them.

No transaction is open while the broker is being talked to: claiming commits a lease
first, publishing happens outside, and marking is a second short transaction. A relay
that dies in between leaves leased rows that the next sweep takes again once the lease
expires; the handler's receipt makes that second publish harmless.

Commands only write their deliveries ``pending``; a following relay (``relay_follower``),
woken at commit, or the beat sweep publishes them. Only in eager mode (tests) is the relay
also the publisher that runs right after a command commits, which runs the handlers inline:
those rows are written already dispatched (see ``outbox.append``) and published in one batch.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import sqlalchemy as sa

from app.application.errors import CorruptMessage
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.ports import DeadLetter, DeliveryLedger
from app.infrastructure.messaging.broker_watch import BrokerWatch
from app.infrastructure.messaging.publisher import CeleryPublisher
from app.infrastructure.persistence import ordering, outbox, relay_heartbeats
from app.infrastructure.persistence.database import single_statement

log = logging.getLogger(__name__)


@dataclass
class RelayReport:
    claimed: int = 0
    published: int = 0
    failed: int = 0
    republished_after_broker_loss: int = 0
    held: int = 0
    """Claimed rows of ordered keys held back behind an open one (not published)."""

    def add(self, other: "RelayReport") -> None:
        self.claimed += other.claimed
        self.published += other.published
        self.failed += other.failed
        self.held += other.held

    @property
    def did_work(self) -> bool:
        return bool(self.claimed or self.republished_after_broker_loss)

    def log(self, logger: logging.Logger) -> None:
        """One INFO line, only when the sweep did something (a quiet relay logs nothing)."""
        if self.did_work:
            logger.info(
                "relay: claimed %d, published %d, failed %d, held %d, "
                "re-published after broker loss %d",
                self.claimed,
                self.published,
                self.failed,
                self.held,
                self.republished_after_broker_loss,
            )


class OutboxRelay:
    IMMEDIATE_PAUSE_SECONDS = 5.0
    """After a failed publish after commit (eager mode), commands stop trying for a while."""
    FOLLOWED_WITHIN_SECONDS = 3.0
    """A following relay whose heartbeat is younger than this is alive: the beat's
    sweep leaves the outbox to it (a follower beats at most once a second, after a sweep)."""
    REPAIR_SECONDS = 1.0
    """How often a sweep also settles the ordered keys that have held rows (``repair``)."""

    def __init__(
        self,
        engine: sa.Engine,
        publisher: CeleryPublisher,
        ledger: DeliveryLedger,
        watch: BrokerWatch | None,
        *,
        batch_size: int,
        claim_lease: timedelta,
        redelivery_after: timedelta,
    ) -> None:
        self._engine = engine
        self._single = single_statement(engine)
        self._publisher = publisher
        self._ledger = ledger
        self._watch = watch
        self._batch_size = batch_size
        self._claim_lease = claim_lease
        self._redelivery_after = redelivery_after
        self._immediate_paused_until = 0.0
        self._last_repair = float("-inf")
        self._stranded: dict[ordering.Key, int] = {}

    def sweep(self, *, time_budget: float = 5.0, check_broker: bool = True) -> RelayReport:
        """Publish due deliveries batch after batch until none is left or time is up.

        ``check_broker``: look for the broker's canary first (one queue declaration), and
        publish again what a broker that came back empty lost.
        """
        recovered = self._recover_lost_messages() if check_broker else 0
        report = RelayReport(republished_after_broker_loss=recovered)
        if time.monotonic() - self._last_repair >= self.REPAIR_SECONDS:
            self._last_repair = time.monotonic()
            self.repair()
        deadline = time.monotonic() + time_budget
        while True:
            batch = self._run_batch()
            report.add(batch)
            if batch.failed or batch.claimed < self._batch_size or time.monotonic() > deadline:
                return report

    def safety_net_sweep(self) -> RelayReport:
        """The beat's sweep: stands down while a following relay beat within
        ``FOLLOWED_WITHIN_SECONDS`` (it sweeps as often, on its own process), and sweeps
        when none has, or none ever ran. One read when it stands down."""
        with self._engine.connect() as conn:
            age = relay_heartbeats.age_seconds(conn)
        if age is not None and age < self.FOLLOWED_WITHIN_SECONDS:
            return RelayReport()
        return self.sweep()

    def dispatch_lease(self) -> timedelta | None:
        """Rows written now are leased to the publish after commit, unless it is paused."""
        if time.monotonic() < self._immediate_paused_until:
            return None
        return self._redelivery_after

    def publish_committed(self, deliveries: Sequence[outbox.ClaimedDelivery]) -> None:
        """Publish a commit's deliveries at once (best effort; the sweep is the guarantee)."""
        published = set(self._publisher.publish(deliveries, fail_fast=True))
        unpublished = [d.delivery_id for d in deliveries if d.delivery_id not in published]
        if not unpublished:
            return
        self._immediate_paused_until = time.monotonic() + self.IMMEDIATE_PAUSE_SECONDS
        try:
            with self._engine.begin() as conn:
                outbox.release(conn, unpublished, token=None)
        except sa.exc.SQLAlchemyError:
            log.warning(
                "could not hand %d unpublished deliveries back to the relay; they are "
                "published again when their lease runs out",
                len(unpublished),
                exc_info=True,
            )

    def _recover_lost_messages(self) -> int:
        """A broker that came back empty lost every queued message: publish those again."""
        if self._watch is None:
            return 0
        try:
            lost = self._watch.broker_lost_messages()
        except Exception as exc:
            # The broker is unreachable: nothing to learn now, and the sweep's publish
            # fails fast and hands its rows back. Never let the check hang or fail the sweep.
            log.warning("could not check the broker's canary: %s", exc)
            return 0
        if not lost:
            return 0
        with self._engine.begin() as conn:
            count = outbox.republish_unstarted(conn)
        if count:
            log.warning(
                "the broker came back without its queues; publishing %d dispatched "
                "deliveries again",
                count,
            )
        return count

    def _run_batch(self) -> RelayReport:
        token = uuid4().hex
        # The claim commits on its own (the lease is what guards the rows); only a batch
        # with ordered rows needs a transaction more, to hold back the ones not yet due.
        with self._single.begin() as conn:
            claimed = outbox.claim(
                conn, token=token, lease=self._claim_lease, limit=self._batch_size
            )
        if not claimed:
            return RelayReport()
        held = self._hold_back(claimed)
        held_keys = {
            (d.handler, d.order_key)
            for d in claimed
            if d.delivery_id in held and d.order_key is not None
        }
        claimed = [d for d in claimed if d.delivery_id not in held]
        orphans = [d for d in claimed if d.handler not in HANDLERS_BY_NAME]
        for orphan in orphans:
            self._dead_letter_orphan(orphan)
        claimed = [d for d in claimed if d.handler in HANDLERS_BY_NAME]
        published: list[int] = []
        try:
            published = self._publisher.publish(claimed, fail_fast=False)
        finally:
            done = set(published)
            unpublished = [d.delivery_id for d in claimed if d.delivery_id not in done]
            # The usual batch (all published, nothing held) is one statement: no BEGIN/COMMIT.
            engine = self._engine if unpublished or held_keys else self._single
            with engine.begin() as conn:
                outbox.mark_dispatched(
                    conn, published, token=token, redelivery_after=self._redelivery_after
                )
                outbox.release(conn, unpublished, token=token)
                if held_keys:
                    # After the claim's commit: frees what a worker's done missed meanwhile.
                    ordering.settle(conn, held_keys)
        return RelayReport(
            len(claimed) + len(orphans) + len(held),
            len(published),
            len(claimed) - len(published),
            held=len(held),
        )

    def _hold_back(self, claimed: Sequence[outbox.ClaimedDelivery]) -> set[int]:
        """Claimed rows of ordered keys with an open row ahead of them: held, not published.

        After the claim's commit and before any publish: a read this late sees at least
        what the claim's own would have, so nothing it lets go has an open row ahead.

        Without a transaction on PostgreSQL: ``settle`` is safe statement by statement (each
        move is guarded by the statuses it may leave, and takes no locks to keep), so the
        usual case, a key's released head with nothing to hold, is one round trip.
        """
        keys = {(d.handler, d.order_key) for d in claimed if d.order_key is not None}
        if not keys:
            return set()
        with self._single.begin() as conn:
            return set(ordering.settle(conn, keys).held)

    def repair(self) -> int:
        """Settle the keys whose first open row is held: frees what a worker that died
        between its done and its release left held. Sweeps run it once a second.

        A key is settled when two looks in a row find the same row stranded: after every
        done, its key looks stranded until the worker's release a moment later, and that
        release, not this repair, should free it (a repair that raced it would report a
        dead worker that never was). A row held by a dead worker waits one look longer.
        """
        with self._engine.begin() as conn:
            stranded = ordering.stranded_keys(conn)
            again = {key for key, row in stranded.items() if self._stranded.get(key) == row}
            released = ordering.settle(conn, again).released if again else []
        self._stranded = {key: row for key, row in stranded.items() if key not in again}
        if released:
            log.warning("relay: released %d held deliveries whose key was free", len(released))
        return len(released)

    def _dead_letter_orphan(self, orphan: outbox.ClaimedDelivery) -> None:
        """A delivery for a handler that no longer exists can never run: say so, loudly."""
        log.error("delivery %s names unknown handler %r", orphan.delivery_id, orphan.handler)
        self._ledger.dead_letter(
            DeadLetter(
                CorruptMessage(f"no handler named {orphan.handler!r} is registered"),
                0,
                orphan.delivery_id,
                orphan.handler,
                {"delivery_id": orphan.delivery_id, "envelope": orphan.envelope.to_dict()},
            )
        )
