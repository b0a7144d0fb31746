"""The handler overview as a table for a terminal: one line per handler.

Long lists are shortened so a line fits: event types become ``all events`` or ``order.*``
when a handler takes every one (of a kind), and the backlog names only its non-zero counts.
"""

from collections.abc import Iterable, Sequence

from app.application.handler_overview import HandlerOverview
from app.domain.events import EVENT_CLASSES

COLUMNS = ("HANDLER", "STATE", "ORDERED", "QUEUE", "BACKLOG", "EVENTS")


def render(handlers: Sequence[HandlerOverview]) -> str:
    rows = [COLUMNS, *(_row(h) for h in handlers)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    if any(not h["enabled"] for h in handlers):
        lines += [
            "",
            "A disabled handler gets no deliveries for new events; those it already has still run.",
        ]
    return "\n".join(lines)


def _row(handler: HandlerOverview) -> tuple[str, ...]:
    state = "enabled" if handler["enabled"] else f"disabled: {handler['disabled_reason']}"
    return (
        handler["name"],
        state,
        "yes" if handler["ordered"] else "no",
        handler["queue"],
        backlog_text(handler["backlog"]),
        event_types_text(handler["event_types"]),
    )


def backlog_text(counts: dict[str, int]) -> str:
    """``3 pending, 1 dead``; ``none`` when every count is zero."""
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "none"


def event_types_text(event_types: Iterable[str], known: Iterable[str] = EVENT_CLASSES) -> str:
    """``all events``, or per kind (the part before the dot) ``order.*`` when it has every
    event type of that kind, else the event types themselves."""
    chosen, every = set(event_types), set(known)
    if chosen >= every:
        return "all events"
    parts = []
    for kind in sorted({t.split(".", 1)[0] for t in chosen}):
        of_kind = {t for t in every if t.split(".", 1)[0] == kind}
        mine = sorted(t for t in chosen if t.split(".", 1)[0] == kind)
        parts += [f"{kind}.*"] if of_kind and of_kind <= chosen else mine
    return ", ".join(parts)
