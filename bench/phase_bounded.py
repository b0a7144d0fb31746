"""The highest offered command rate whose backlog stays bounded.

One window offers a fixed rate (create and pay alternating, open loop) while a sampler reads
the outbox twice a second. A window is *bounded* when

* every command was answered with a 2xx, at ≥ 95 % of the offered rate, and
* the unfinished-delivery backlog did not grow over the window's second half (least-squares
  slope ≤ 5 % of the delivery arrival rate) and ends below 3 s of arrivals.

A window ends early, unbounded, when after 15 s (or half the window, if shorter) the backlog
exceeds 3 s of arrivals and is still growing.
The search starts at the profile's rate. After a bounded window it tries the next rung of a
ladder of rates; after an unbounded one, the highest rung at or below 90 % of what that window
actually got through (commands/s answered x deliveries finished / deliveries created). It stops
when a bounded rate sits just below an unbounded one, or the profile's windows run out.
"""

import threading
from dataclasses import asdict, dataclass
from typing import Any

from bench import load, sample_order
from bench.numbers import rate, slope
from bench.outbox_watch import OutboxSample, OutboxWatch
from bench.product_stack import ProductStack
from bench.profiles import Profile

LADDER = (2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 160.0)
SAMPLE_EVERY = 0.5
GROWTH_TOLERANCE = 0.05
BOUNDED_BACKLOG_SECONDS = 3.0
RUNAWAY_BACKLOG_SECONDS = 3.0
RUNAWAY_AFTER_SECONDS = 15.0
SETTLE_TIMEOUT = 180.0


@dataclass(frozen=True)
class Window:
    offered_per_s: float
    seconds: float
    answered_per_s: float
    errors: int
    arrivals_per_s: float
    growth_per_s: float
    final_backlog: int
    sustained_per_s: float
    """Commands/s this window got through: answered rate x finished / created deliveries."""
    bounded: bool
    reason: str


def run_bounded_search(
    stack: ProductStack, watch: OutboxWatch, profile: Profile, user_id: str
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    windows: list[Window] = []
    offered: float | None = profile.bounded_start_rate
    while offered is not None and len(windows) < profile.bounded_max_windows:
        window = _run_window(stack, watch, profile, user_id, offered)
        windows.append(window)
        stack.progress.say(
            f"bounded lag: {window.offered_per_s:.0f}/s "
            f"{'bounded' if window.bounded else 'NOT bounded'} ({window.reason})"
        )
        if watch.wait_drained(SETTLE_TIMEOUT, stack.check_alive) is None:
            stack.progress.say("bounded lag: the backlog did not drain; search stops")
            break
        offered = next_rate(windows)
    best = max((w.offered_per_s for w in windows if w.bounded), default=0.0)
    figures = {"bounded_rate_per_s": best, "bounded_window_s": profile.bounded_window}
    return figures, [asdict(w) for w in windows]


def next_rate(windows: list[Window]) -> float | None:
    """The rate to try next, or None when the search has its answer."""
    passed = [w.offered_per_s for w in windows if w.bounded]
    failed = [w.offered_per_s for w in windows if not w.bounded]
    floor, ceiling = max(passed, default=0.0), min(failed, default=float("inf"))
    last = windows[-1]
    if last.bounded:
        return next((r for r in LADDER if last.offered_per_s < r < ceiling), None)
    below = [r for r in LADDER if floor < r < last.offered_per_s]
    likely = [r for r in below if r <= 0.9 * last.sustained_per_s]
    return likely[-1] if likely else None


def _run_window(
    stack: ProductStack, watch: OutboxWatch, profile: Profile, user_id: str, offered: float
) -> Window:
    stack.progress.say(
        f"bounded lag: offering {offered:.0f} commands/s for up to {profile.bounded_window:.0f} s"
    )
    stop = threading.Event()
    samples: list[OutboxSample] = [watch.sample()]
    verdict: list[str] = []
    sampler = threading.Thread(
        target=_sample, args=(watch, samples, stop, verdict, profile.bounded_window), daemon=True
    )
    sampler.start()
    result, _answers = load.open_loop(
        stack.port,
        load.CreateAndPay([user_id], sample_order.ITEMS, sample_order.TOTAL),
        rate=offered,
        seconds=profile.bounded_window,
        stop=stop,
    )
    stop.set()
    sampler.join()
    samples.append(watch.sample())
    return _judge(offered, result, samples, verdict)


def _sample(
    watch: OutboxWatch,
    samples: list[OutboxSample],
    stop: threading.Event,
    verdict: list[str],
    window: float,
) -> None:
    """Runs beside the load; sets ``stop`` when the backlog has clearly run away."""
    first = samples[0]
    while not stop.wait(SAMPLE_EVERY):
        current = watch.sample()
        samples.append(current)
        elapsed = current.at - first.at
        arrivals = rate(current.last_id - first.last_id, elapsed)
        recent = [(s.at, float(s.unfinished)) for s in samples if s.at >= current.at - 5.0]
        if (
            elapsed >= min(RUNAWAY_AFTER_SECONDS, window / 2)
            and current.unfinished > RUNAWAY_BACKLOG_SECONDS * arrivals
            and slope(recent) > GROWTH_TOLERANCE * arrivals
        ):
            verdict.append(
                f"backlog {current.unfinished} after {elapsed:.0f} s, over "
                f"{RUNAWAY_BACKLOG_SECONDS:.0f} s of arrivals and growing"
            )
            stop.set()


def _judge(
    offered: float, result: load.LoadResult, samples: list[OutboxSample], verdict: list[str]
) -> Window:
    first, last = samples[0], samples[-1]
    seconds = last.at - first.at
    arrivals = rate(last.last_id - first.last_id, seconds)
    second_half = [(s.at, float(s.unfinished)) for s in samples if s.at >= first.at + seconds / 2]
    growth = slope(second_half)
    answered = result.ok_per_second
    created = last.last_id - first.last_id
    finished = created - (last.unfinished - first.unfinished)
    sustained = answered * finished / created if created > 0 else 0.0
    reasons = list(verdict)
    if result.errors:
        reasons.append(f"{result.errors} commands failed")
    if answered < 0.95 * offered:
        reasons.append(f"only {answered:.1f} commands/s answered")
    if growth > GROWTH_TOLERANCE * arrivals:
        reasons.append(f"backlog grew {growth:.1f}/s")
    if last.unfinished > BOUNDED_BACKLOG_SECONDS * arrivals:
        reasons.append(f"backlog {last.unfinished} at the end")
    return Window(
        offered_per_s=offered,
        seconds=round(seconds, 1),
        answered_per_s=answered,
        errors=result.errors,
        arrivals_per_s=arrivals,
        growth_per_s=growth,
        final_backlog=last.unfinished,
        sustained_per_s=sustained,
        bounded=not reasons,
        reason="; ".join(reasons) or f"backlog ended at {last.unfinished}, growth {growth:.1f}/s",
    )
