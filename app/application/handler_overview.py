"""Every handler as operators see it: what it subscribes to, whether this process enables
it (or which setting it lacks), and its deliveries by status.

``flask handlers list`` prints it and ``GET /api/handlers`` answers it, both from
``describe``, so the two always say the same. The counts come from the outbox's reader,
the last backfill from the record of runs (``backfill_runs``).
"""

from collections.abc import Mapping
from typing import TypedDict

from app.application.backfills import BackfillRun
from app.application.event_handlers.subscriptions import Subscription
from app.application.ports import DeliveryStatus

BACKLOG_STATUSES = (*DeliveryStatus.unfinished(), *DeliveryStatus.held(), DeliveryStatus.DEAD)
"""What a handler's backlog counts: deliveries still to run or held, and dead ones."""


class HandlerOverview(TypedDict):
    """One handler as JSON: see ``HandlerSchema`` in ``app.api.responses``."""

    name: str
    task: str
    queue: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    requires: list[str]
    ordered: bool
    effect: str
    backlog: dict[str, int]
    """A count for each of ``BACKLOG_STATUSES``, zeros included."""
    oldest_waiting_age_seconds: float
    done: int
    """Done deliveries the outbox still retains."""
    last_backfill: BackfillRun | None
    """The handler's latest recorded backfill run (HTTP or ops page), if any."""


def describe(
    subscription: Subscription,
    counts: Mapping[str, int],
    oldest_age: float,
    last_backfill: BackfillRun | None,
) -> HandlerOverview:
    """``subscription`` with its deliveries' ``counts`` by status, the age in seconds of
    its oldest delivery still to run or held, and its ``last_backfill`` run."""
    spec = subscription.spec
    return {
        "name": spec.name,
        "task": spec.task_name,
        "queue": spec.queue,
        "event_types": sorted(spec.event_types),
        "enabled": subscription.enabled,
        "disabled_reason": subscription.disabled_reason,
        "requires": list(spec.requires),
        "ordered": spec.ordered,
        "effect": spec.effect,
        "backlog": {status.value: counts.get(status, 0) for status in BACKLOG_STATUSES},
        "oldest_waiting_age_seconds": round(oldest_age, 3),
        "done": counts.get(DeliveryStatus.DONE, 0),
        "last_backfill": last_backfill,
    }
