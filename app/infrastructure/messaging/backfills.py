"""Backfills started over HTTP (or the ops page) and run by a worker, recorded as they go.

``start`` records a ``queued`` run and sends the ``outbox.backfill`` task after that commit;
the task calls ``execute``, which runs the same ``Backfill`` as ``flask handlers backfill``
and writes the run's figures after every batch. The run row is what survives: a send that
fails fails the run at once, and a message that never arrives leaves a run that the next
``start`` for the handler finds abandoned (``BackfillRuns``).
"""

import logging
from datetime import datetime

import sqlalchemy as sa
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError

from app.application.backfills import (
    BackfillRequest,
    BackfillRun,
    HandlerDisabled,
    TaskNotSent,
)
from app.application.event_handlers.subscriptions import Subscription, Subscriptions
from app.infrastructure.messaging.celery_app import BACKFILL_TASK, RELAY_QUEUE
from app.infrastructure.persistence.backfill import Backfill, BackfillReport
from app.infrastructure.persistence.backfill_runs import BackfillRuns, RunTakenOver

log = logging.getLogger(__name__)


class Backfills:
    def __init__(
        self,
        engine: sa.Engine,
        runs: BackfillRuns,
        subscriptions: Subscriptions,
        celery: Celery,
    ) -> None:
        self._engine = engine
        self.runs = runs
        """The recorded runs, to read (``get``, ``active``)."""
        self._subscriptions = subscriptions
        self._celery = celery

    def start(self, subscription: Subscription, request: BackfillRequest) -> BackfillRun:
        """Queue a run of ``subscription``'s handler and send its task.

        Raises ``HandlerDisabled`` for a disabled handler, ``AlreadyRunning`` when one of
        its runs is queued or running, and ``TaskNotSent`` (the run failed) when the broker
        did not take the task. Under eager Celery (tests) the run is finished when this
        returns.
        """
        if not subscription.enabled:
            raise HandlerDisabled(
                f"{subscription.spec.name} is not enabled ({subscription.disabled_reason}): "
                "its deliveries would do nothing; configure it, restart, then backfill"
            )
        run = self.runs.queue(subscription.spec.name, request)
        try:
            self._send(run["id"])
        except OperationalError as exc:
            self.runs.fail(run["id"], None, f"could not send its task: {exc}")
            raise TaskNotSent(
                f"backfill {run['id']} failed: could not send its task: {exc}"
            ) from exc
        return self.runs.get(run["id"]) or run

    def _send(self, run_id: int) -> None:
        """The registered task where there is one (a worker, eager tests), else by name."""
        kwargs = {"run_id": run_id}
        task = self._celery.tasks.get(BACKFILL_TASK)
        if task is not None:
            task.apply_async(kwargs=kwargs, queue=RELAY_QUEUE)
        else:
            self._celery.send_task(BACKFILL_TASK, kwargs=kwargs, queue=RELAY_QUEUE)

    def execute(self, run_id: int) -> BackfillRun | None:
        """Carry run ``run_id`` out (the task's body); None when it is finished or unknown.

        Fails the run, rather than raising, for what running it again would not fix;
        stops quietly when another task took the run over.
        """
        claimed = self.runs.claim(run_id)
        if claimed is None:
            log.info("backfill %s is finished or unknown; nothing to do", run_id)
            return None
        run, owner = claimed
        subscription = self._subscriptions.get(run["handler"])
        if subscription is None or not subscription.enabled:
            reason = "unknown here" if subscription is None else subscription.disabled_reason
            self.runs.fail(
                run_id, owner, f"{run['handler']} is not enabled on the worker: {reason}"
            )
            return self.runs.get(run_id)
        try:
            report = self._walk(run, owner, subscription)
        except RunTakenOver:
            log.warning("backfill %s was taken over by another task; this one stops", run_id)
            return self.runs.get(run_id)
        except SoftTimeLimitExceeded:
            self.runs.fail(
                run_id,
                owner,
                "stopped at the task's time limit: start it again; what it added stays, and "
                "the next run adds only what is still missing",
            )
            return self.runs.get(run_id)
        except Exception as exc:
            log.exception("backfill %s failed", run_id)
            self.runs.fail(run_id, owner, f"{type(exc).__name__}: {exc}")
            return self.runs.get(run_id)
        self.runs.finish(run_id, owner, report)
        log.info(
            "backfill %s of %s: read %d events up to position %d, added %d deliveries",
            run_id,
            run["handler"],
            report.scanned,
            report.end_position,
            report.added,
        )
        return self.runs.get(run_id)

    def _walk(self, run: BackfillRun, owner: str, subscription: Subscription) -> BackfillReport:
        backfill = Backfill(
            self._engine, subscription.spec, batch_size=run["batch_size"], rate=run["rate"]
        )
        since = run["since"]
        after, total = backfill.plan(
            from_position=run["from_position"],
            since=None if since is None else datetime.fromisoformat(since),
        )
        self.runs.plan(run["id"], owner, start_position=after, total=total)

        def checkpoint(report: BackfillReport, position: int, head: int) -> None:
            self.runs.progress(run["id"], owner, report, position=position, head=head)

        return backfill.run(after, total, checkpoint=checkpoint)
