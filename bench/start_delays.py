"""How long committed events waited for their handlers: the latency figures' raw samples.

"Commit" time is the event's ``occurred_at``: the product stamps it before the command's
transaction commits, so ``occurred_at → handler start`` is an upper bound of
commit → handler start (it includes the command's own writes and commit). The client's
2xx arrival comes after the commit, so ``response → handler start`` is a lower bound
(negative when a handler starts before the answer reaches the client).
"""

from dataclasses import dataclass

from bench import load, probe
from bench.product_stack import deliveries, first_starts


@dataclass(frozen=True)
class StartDelays:
    commit_ms: list[float]
    """``occurred_at`` → first handler start, one per delivery of an event since the window."""
    response_ms: list[float]
    """2xx answer → first handler start, for the deliveries whose command's answer was seen."""
    extra_copies: int
    """Task starts beyond the first of a delivery (re-publishes, redeliveries)."""

    @property
    def delivered(self) -> int:
        return len(self.commit_ms)


def measure(
    records: list[probe.ProbeRecord], answers: list[load.CommandAnswer], since: float
) -> StartDelays:
    """From the probe's records and the load client's answers, for events that occurred
    at or after ``since`` (epoch seconds)."""
    recent = deliveries(records, since)
    starts = [r for r in first_starts(recent) if (r.fields.get("occ") or 0) >= since]
    copies = sum(r.kind == "start" for r in recent) - len(first_starts(recent))
    answered = answer_times(answers)
    keyed = [(r.at, (str(r.fields.get("agg")), str(r.fields.get("type")))) for r in starts]
    return StartDelays(
        commit_ms=[(r.at - r.fields["occ"]) * 1000 for r in starts],
        response_ms=[(at - answered[key]) * 1000 for at, key in keyed if key in answered],
        extra_copies=copies,
    )


def answer_times(answers: list[load.CommandAnswer]) -> dict[tuple[str, str], float]:
    """(aggregate id, event type) → when the command's 2xx answer arrived."""
    times: dict[tuple[str, str], float] = {}
    for entry in answers:
        if not 200 <= entry.answer.status < 300:
            continue
        if entry.path == "/api/orders":
            times[(str(entry.answer.body.get("order_id")), "order.created")] = (
                entry.answer.answered_at
            )
        elif entry.path.endswith("/pay"):
            order_id = entry.path.split("/")[3]
            times[(order_id, "order.payment_processed")] = entry.answer.answered_at
    return times
