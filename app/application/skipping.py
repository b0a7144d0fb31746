"""Skipping dead letters: one way for the API, the ops page and the CLI.

Skipping gives a dead letter's delivery up for good: it is never delivered, the dead
letter keeps its row (``skipped``, with who and when), and an ordered handler's deliveries
parked behind it go on, in order. Only a dead letter still ``dead`` that names a delivery
can be skipped; ``skip`` says of every other one why, in words an operator can act on.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.application.dead_letters import (
    DEAD,
    MAX_ID,
    REDRIVEN,
    SKIPPED,
    DeadLetterRecord,
    DeadLetters,
)


@dataclass(frozen=True)
class Refused:
    dead_letter_id: int
    reason: str
    missing: bool = False
    """No such dead letter (a 404), rather than one in another state (a 409)."""


@dataclass
class Skips:
    skipped: list[int] = field(default_factory=list)
    """In the order asked for."""
    refused: list[Refused] = field(default_factory=list)


def skip(store: DeadLetters, ids: Iterable[int], *, by: str) -> Skips:
    """Skip these dead letters in one transaction, recording ``by`` as who skipped them.

    ``by`` names the surface and the caller (``api:…``, ``ops:…``, ``cli:…``). A repeated
    id counts once; an id that cannot be skipped changes nothing and is refused with why.
    """
    wanted = list(dict.fromkeys(ids))
    found = {i: _get(store, i) for i in wanted}
    skippable = [i for i, item in found.items() if refusal(i, item) is None]
    done = set(store.skip(skippable, by=by))
    outcome = Skips(skipped=[i for i in wanted if i in done])
    for dead_letter_id in wanted:
        if dead_letter_id in done:
            continue
        item = found[dead_letter_id]
        if dead_letter_id in skippable:
            item = _get(store, dead_letter_id)  # it changed since it was read: say how
        reason = refusal(dead_letter_id, item) or (
            f"dead letter {dead_letter_id} was not skipped: its delivery is no longer dead "
            "(a copy of it finished, or it was re-driven meanwhile)"
        )
        outcome.refused.append(Refused(dead_letter_id, reason, missing=item is None))
    return outcome


def refusal(dead_letter_id: int, item: DeadLetterRecord | None) -> str | None:
    """Why this dead letter cannot be skipped; None when it can."""
    if item is None:
        return f"dead letter {dead_letter_id} does not exist"
    status = item["status"]
    if status == SKIPPED:
        return (
            f"dead letter {dead_letter_id} was already skipped "
            f"by {item['skipped_by']} at {item['skipped_at']}"
        )
    if status == REDRIVEN:
        return (
            f"dead letter {dead_letter_id} was re-driven at {item['redriven_at']}: "
            "only a dead letter still dead can be skipped"
        )
    if status != DEAD:
        return f"dead letter {dead_letter_id} is {status}: only a dead one can be skipped"
    if item["delivery_id"] is None:
        return (
            f"dead letter {dead_letter_id} names no delivery to skip "
            "(its message named none): purge it instead"
        )
    return None


def _get(store: DeadLetters, dead_letter_id: int) -> DeadLetterRecord | None:
    return None if dead_letter_id > MAX_ID else store.get(dead_letter_id)
