"""What operators ask of the stores (the ops page, the admin API, the CLI): the filters and
page limits they parse requests into. The SQL that answers them is the infrastructure's."""

from dataclasses import dataclass

MAX_TRACED_EVENTS = 1000
"""The most events one page of a trace holds; a longer chain is read page by page."""


@dataclass(frozen=True)
class EventFilter:
    """Which stored events a page lists: every given field must match; ``after`` a position."""

    aggregate_type: str | None = None
    aggregate_id: str | None = None
    correlation_id: str | None = None
    event_type: str | None = None
    after: int = 0
