"""A handler's backfill as operators ask for it (HTTP, the ops page): the request, the run's
states and the refusals. The store that records runs and the task that carries them out are
the infrastructure's (``backfill_runs``, ``messaging.backfills``)."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

BackfillRun = dict[str, Any]
"""One recorded run as JSON: see ``BackfillRunSchema`` in ``app.api.responses``."""


class BackfillState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    """A task has claimed it and walks the event store."""
    DONE = "done"
    FAILED = "failed"

    @classmethod
    def active(cls) -> tuple["BackfillState", ...]:
        """A handler has at most one run in these at a time."""
        return (cls.QUEUED, cls.RUNNING)


@dataclass(frozen=True)
class BackfillRequest:
    """What a backfill is asked to do: the options of ``flask handlers backfill``."""

    requested_by: str
    """Who asked: the surface and the caller (``api:token:…``, ``ops:…``)."""
    from_position: int | None = None
    since: datetime | None = None
    batch_size: int = 1000
    rate: float | None = None


class HandlerDisabled(Exception):
    """The handler gets no deliveries in this process: backfilling it would do nothing."""


class AlreadyRunning(Exception):
    """The handler has a run queued or running; ``run`` is that one."""

    def __init__(self, run: BackfillRun) -> None:
        super().__init__(
            f"backfill {run['id']} of {run['handler']} is {run['state']} already: "
            "wait for it to finish (GET its Location) before starting another"
        )
        self.run = run


class TaskNotSent(Exception):
    """The run was recorded but its task could not be sent (the broker refused or is
    unreachable): the run is failed, and starting again may succeed."""
