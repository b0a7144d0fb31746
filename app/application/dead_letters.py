"""Dead letters as operators ask for them: the filter a page or command parses, the states a
dead letter goes through, and the store's interface that the entry points and ``skipping``
use. The SQL that answers them is the infrastructure's (``DeadLetterStore``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, Protocol, TypedDict

MAX_ID = 2**63 - 1
"""Ids are BIGINT: anything larger cannot exist (and would overflow the driver), so an
entry point answers "no such dead letter" without asking the store."""

DEAD = "dead"
"""Given up on: its delivery is dead too, and may be re-driven or skipped."""
REDRIVEN = "redriven"
"""Its delivery went back to pending; the row stays as history."""
SKIPPED = "skipped"
"""Its delivery will never run; the row keeps who skipped it and when."""


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a page or command means: every given field must match.

    Without ``include_redriven`` only those still ``dead`` (re-drivable, skippable).
    ``error`` is text in the exception type or message, in any case.
    """

    handler: str | None = None
    event_type: str | None = None
    error: str | None = None
    since: datetime | None = None
    include_redriven: bool = False


class DeadLetterRecord(TypedDict):
    """One dead letter as JSON (times in ISO 8601): see ``DeadLetterSchema`` in
    ``app.api.responses``."""

    id: int
    delivery_id: int | None
    """None when the message was too broken to name its delivery (or event)."""
    event_id: str | None
    event_type: str | None
    handler: str | None
    attempts: int
    exception_type: str
    message: str
    traceback: NotRequired[str]
    """Always read from the store; lists drop it before answering."""
    body: object
    """The message as received (JSON)."""
    status: str
    created_at: str
    redriven_at: str | None
    skipped_at: str | None
    skipped_by: str | None


class DeadLetters(Protocol):
    """The dead-letter store; each write is one transaction of its own."""

    def search(
        self, where: DeadLetterFilter, *, limit: int = 100, offset: int = 0
    ) -> list[DeadLetterRecord]: ...

    def count(self, where: DeadLetterFilter) -> int: ...

    def get(self, dead_letter_id: int) -> DeadLetterRecord | None: ...

    def matching(self, where: DeadLetterFilter) -> list[int]: ...

    def redrive(self, ids: Sequence[int]) -> list[int]:
        """The ids actually re-driven: those still dead whose delivery is still dead."""

    def skip(self, ids: Sequence[int], *, by: str) -> list[int]:
        """The ids actually skipped: those still dead whose delivery is still dead."""

    def purge(self, where: DeadLetterFilter) -> int: ...
