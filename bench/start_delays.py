"""How long committed events waited for their handlers: the latency figures' raw samples.

"Commit" time is the event's ``occurred_at``: the product stamps it before the command's
transaction commits, so ``occurred_at → handler start`` is an upper bound of
commit → handler start (it includes the command's own writes and commit). The client's
2xx arrival comes after the commit, so ``response → handler start`` is a lower bound
(negative when a handler starts before the answer reaches the client).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import load, probe, sample_order
from bench.numbers import percentile
from bench.outbox_watch import OutboxWatch
from bench.processes import ProcessFailed
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


def offer_and_drain(
    port: int,
    user_ids: Sequence[str],
    watch: OutboxWatch,
    check_alive: Callable[[], None],
    *,
    rate: float,
    seconds: float,
    drain_timeout: float,
    what: str,
) -> tuple[load.LoadResult, list[load.CommandAnswer]]:
    """Create-and-pay commands at ``rate`` for ``seconds`` (open loop), then wait until the
    outbox has drained; ``what`` names the window in the error when it does not."""
    answered = load.open_loop(
        port,
        load.CreateAndPay(list(user_ids), sample_order.ITEMS, sample_order.TOTAL),
        rate=rate,
        seconds=seconds,
    )
    if watch.wait_drained(drain_timeout, check_alive) is None:
        raise ProcessFailed(f"the outbox did not drain after the {what}")
    return answered


def latency_figures(
    result: load.LoadResult, delays: StartDelays, offered: float
) -> dict[str, float]:
    """The latency window's figures, as ``make bench`` and ``make bench-scale`` report them."""
    return {
        "latency_offered_per_s": offered,
        "latency_answered_per_s": result.ok_per_second,
        "latency_errors": float(result.errors),
        "latency_deliveries": float(delays.delivered),
        "latency_extra_copies": float(delays.extra_copies),
        "commit_to_start_p50_ms": percentile(delays.commit_ms, 50),
        "commit_to_start_p99_ms": percentile(delays.commit_ms, 99),
        "response_to_start_p50_ms": percentile(delays.response_ms, 50),
        "response_to_start_p99_ms": percentile(delays.response_ms, 99),
    }
