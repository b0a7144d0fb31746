"""The maintenance jobs operators run: a projection's rebuild (``flask projections
rebuild``), a handler's backfill (``flask handlers backfill``) and the aggregates' check
(``flask aggregates verify``). Here: what each reports, and the interface a command drives
it through; the jobs themselves are the infrastructure's, handed out by the container."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.application.event_handlers.specs import HandlerSpec


@dataclass
class RebuildReport:
    name: str
    rows: int = 0
    events: int = 0
    seconds: float = 0.0
    catch_up_rounds: int = 0
    swap_seconds: float = 0.0
    undecodable: list[str] = field(default_factory=list)
    """Aggregates whose stream holds an event no code can read (left out, as live does)."""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class ProjectionRebuildJob(Protocol):
    """One projection's rebuild: folded into a shadow table, swapped in at the end."""

    @property
    def name(self) -> str: ...

    def event_count(self) -> int:
        """The events the rebuild will fold (a progress bar's length)."""

    def run(self, progress: Callable[[int], None] = ...) -> RebuildReport:
        """Rebuild and swap; ``progress(events)`` after each batch. On any failure or
        interruption the live projection stays as it was."""


@dataclass
class BackfillReport:
    handler: str
    start_position: int
    """The walk began after this position."""
    end_position: int = 0
    """The barrier's position: every event up to it was considered."""
    scanned: int = 0
    """Subscribed events read."""
    added: int = 0
    """Deliveries inserted (0 on a dry run, and on a second run)."""
    missing: int = 0
    """Subscribed events without a delivery for the handler (what a real run would add)."""
    gaps_filled: int = 0
    """Events that were not yet visible when first passed and were found after the barrier."""
    seconds: float = 0.0
    dry_run: bool = False
    gaps: set[int] = field(default_factory=set, repr=False)

    @property
    def events_per_second(self) -> float:
        return self.scanned / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int], None]
"""A backfill's ``progress(events_done, events_total)``, after each batch (the total may
grow)."""

Checkpoint = Callable[[BackfillReport, int, int], None]
"""A backfill's ``checkpoint(report, position_reached, head_position)``, after each batch
and at the end: what a recorded run (``backfill_runs``) writes down. Raising stops the walk
there."""


class BackfillJob(Protocol):
    """One handler's backfill: a delivery for each stored event it subscribes to and lacks."""

    def plan(self, *, from_position: int | None, since: datetime | None) -> tuple[int, int]:
        """(start after, events to read): what ``run`` will walk."""

    def run(
        self,
        after: int,
        total: int,
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> BackfillReport:
        """Walk from ``after`` on; interruptible at any batch (what committed stays)."""


class BackfillFactory(Protocol):
    def __call__(
        self, spec: HandlerSpec, *, batch_size: int, rate: float | None, dry_run: bool
    ) -> BackfillJob:
        """A backfill of ``spec``'s handler, ``batch_size`` events per transaction, at most
        ``rate`` events a second; a dry run counts and adds nothing."""


@dataclass
class VerifyReport:
    checked: int = 0
    mismatched: int = 0
    """Orders whose state differs from their events."""
    mismatches: list[str] = field(default_factory=list)
    """What differs, one line per difference."""
