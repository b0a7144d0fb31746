"""Ordered delivery's cost: ``forward_to_webhooks`` drained with and without its order key.

Each drain seeds ``keys x events`` events and one delivery of that handler each
(``bench.ordered_seed``) and times from the commit that releases them to the last ``done_at``,
on the Procfile's following relay and the product's worker (prefork, concurrency 2), which
post every event to a local partner answering 200 (``bench.webhook_receiver``). Beat is not
running: its sweeps would share the worker. The drains run in rounds on the same processes,
each round: unordered, then ordered; the first ``ordering_retry_rounds`` rounds then drain
both again with the first event of one key in twenty refused once (503, retried after the
product's backoff), where the figure is how fast the *other* keys drain. Figures are medians
over the rounds; the ratios are of the medians.
"""

import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from bench import ordered_seed
from bench.numbers import rate, ratio
from bench.outbox_watch import OutboxWatch
from bench.processes import ProcessFailed
from bench.product_stack import ProductStack
from bench.profiles import Profile
from bench.webhook_receiver import WebhookReceiver

SECRET = "bench-ordering-secret"
SLOW_EVERY = 20
"""In a retrying drain, every twentieth key (5 %) has its first event refused once."""
DRAIN_TIMEOUT = 600.0
POLL = 0.1


@dataclass(frozen=True)
class Variant:
    name: str
    ordered: bool
    retrying: bool


VARIANTS = (
    Variant("unordered", ordered=False, retrying=False),
    Variant("ordered", ordered=True, retrying=False),
    Variant("retrying_unordered", ordered=False, retrying=True),
    Variant("retrying_ordered", ordered=True, retrying=True),
)


@dataclass(frozen=True)
class Drain:
    variant: str
    round: int
    deliveries: int
    seconds: float
    """From the releasing commit to the last delivery's ``done_at``."""
    others: int
    others_seconds: float
    """The same, over the keys whose first event was not refused (all keys when none was)."""
    worker_cpu_seconds: float
    relay_cpu_seconds: float
    posts: int
    out_of_order_keys: int
    load_average: float

    @property
    def per_second(self) -> float:
        return rate(self.deliveries, self.seconds)

    @property
    def others_per_second(self) -> float:
        return rate(self.others, self.others_seconds)


def run_ordering(
    stack: ProductStack, watch: OutboxWatch, profile: Profile
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Starts the relay and a worker (nothing else but the web may run), drains every
    variant ``profile.ordering_rounds`` times, stops them again. Returns the figures and
    every drain."""
    receiver = WebhookReceiver()
    receiver.start()
    engine = sa.create_engine(stack.rig.namespace.database_url)
    drains: list[Drain] = []
    try:
        stack.start_relay()
        stack.start_worker({"WEBHOOK_URLS": f"{receiver.url}|{SECRET}"})
        if watch.wait_drained(DRAIN_TIMEOUT, stack.check_alive) is None:
            raise ProcessFailed("the outbox left by earlier phases did not drain")
        for number in range(1, profile.ordering_rounds + 1):
            retrying = number <= profile.ordering_retry_rounds
            for variant in (v for v in VARIANTS if retrying or not v.retrying):
                drain = _drain(stack, watch, engine, receiver, profile, variant, number)
                drains.append(drain)
                stack.progress.say(
                    f"ordering round {number}: {variant.name}: {drain.deliveries} deliveries "
                    f"in {drain.seconds:.2f} s = {drain.per_second:.0f}/s; other keys "
                    f"{drain.others_per_second:.0f}/s; {drain.out_of_order_keys} keys out of order"
                )
    finally:
        engine.dispose()
        receiver.stop()
    stack.stop_all_but_web()
    shape = {
        "ordering_keys": float(profile.ordering_keys),
        "ordering_events_per_key": float(profile.ordering_events),
        "ordering_rounds": float(profile.ordering_rounds),
        "ordering_retry_rounds": float(profile.ordering_retry_rounds),
    }
    return shape | figures(drains), [asdict(d) for d in drains]


def _drain(
    stack: ProductStack,
    watch: OutboxWatch,
    engine: sa.Engine,
    receiver: WebhookReceiver,
    profile: Profile,
    variant: Variant,
    number: int,
) -> Drain:
    plan = ordered_seed.plan(profile.ordering_keys, profile.ordering_events)
    slow = plan.keys[::SLOW_EVERY] if variant.retrying else []
    receiver.reset(refuse_once=plan.heads(slow))
    worker_cpu, relay_cpu = stack.cpu("worker"), stack.cpu("relay")
    seeded = ordered_seed.insert(engine, plan, ordered=variant.ordered)
    deadline = time.time() + DRAIN_TIMEOUT
    while True:
        not_done, dead = watch.not_done(seeded.first_id, seeded.last_id)
        if not not_done:
            break
        stack.check_alive()
        if dead:
            raise ProcessFailed(f"ordering: {dead} deliveries died in {variant.name}")
        if time.time() > deadline:
            raise ProcessFailed(f"ordering: {variant.name} did not drain in {DRAIN_TIMEOUT:.0f}s")
        time.sleep(POLL)
    worker_cpu, relay_cpu = stack.cpu("worker") - worker_cpu, stack.cpu("relay") - relay_cpu
    times = watch.drain_times(seeded.first_id, seeded.last_id, slow)
    deliveries = len(plan.events)
    if receiver.accepted_events() != deliveries:
        raise ProcessFailed(
            f"ordering: the partner accepted {receiver.accepted_events()} of {deliveries} "
            "events (is WEBHOOK_URLS reaching the worker?)"
        )
    return Drain(
        variant=variant.name,
        round=number,
        deliveries=deliveries,
        seconds=times.last_done_at - seeded.released_at,
        others=deliveries - len(slow) * profile.ordering_events,
        others_seconds=times.others_last_done_at - seeded.released_at,
        worker_cpu_seconds=worker_cpu,
        relay_cpu_seconds=relay_cpu,
        posts=receiver.posts,
        out_of_order_keys=receiver.out_of_order_aggregates(),
        load_average=os.getloadavg()[0],
    )


def figures(drains: list[Drain]) -> dict[str, float]:
    """Medians per variant over the drains (of one run, or pooled over several), the ratios
    of those medians, and the order check (the most keys out of order in a drain).

    ``ordering_cpu_unordered_over_ordered`` is the drain ratio to expect where the worker's
    and the relay's CPU is the bottleneck: on a shared machine it moves far less with other
    people's load than the wall-clock ratio does."""

    def median(variant: str, value: str) -> float:
        return statistics.median(float(getattr(d, value)) for d in drains if d.variant == variant)

    def most(variant: str, value: str) -> float:
        return float(max(getattr(d, value) for d in drains if d.variant == variant))

    out: dict[str, float] = {}
    for variant in ("unordered", "ordered"):
        out[f"ordering_{variant}_per_s"] = median(variant, "per_second")
        for kind in ("worker", "relay"):
            per_delivery = [
                rate(getattr(d, f"{kind}_cpu_seconds") * 1000, d.deliveries)
                for d in drains
                if d.variant == variant
            ]
            out[f"ordering_{variant}_{kind}_cpu_ms"] = statistics.median(per_delivery)
        out[f"ordering_{variant}_out_of_order_keys"] = most(variant, "out_of_order_keys")
    for variant in ("retrying_unordered", "retrying_ordered"):
        out[f"ordering_{variant}_others_per_s"] = median(variant, "others_per_second")
        out[f"ordering_{variant}_seconds"] = median(variant, "seconds")
        out[f"ordering_{variant}_out_of_order_keys"] = most(variant, "out_of_order_keys")
    out["ordering_ordered_over_unordered"] = ratio(
        out["ordering_ordered_per_s"], out["ordering_unordered_per_s"]
    )
    out["ordering_cpu_unordered_over_ordered"] = ratio(
        out["ordering_unordered_worker_cpu_ms"] + out["ordering_unordered_relay_cpu_ms"],
        out["ordering_ordered_worker_cpu_ms"] + out["ordering_ordered_relay_cpu_ms"],
    )
    out["ordering_retrying_ordered_over_unordered"] = ratio(
        out["ordering_retrying_ordered_others_per_s"],
        out["ordering_retrying_unordered_others_per_s"],
    )
    return out
