"""outboxflow under load: backlog drain, commit→handler-start latency, CPU per delivery."""

import time

from bench import start_delays
from bench.numbers import percentile, rate
from bench.outbox_watch import OutboxWatch
from bench.processes import ProcessFailed
from bench.product_stack import ProductStack, deliveries, first_starts
from bench.profiles import Profile

PROCESSES = ("web", "worker", "beat", "relay")
DRAIN_TIMEOUT = 600.0
PUBLISH_TIMEOUT = 60.0


def run_drain(stack: ProductStack, watch: OutboxWatch) -> dict[str, float]:
    """The POST phase left a backlog with no worker; start one and time until all is done."""
    _publish_backlog(stack, watch)
    backlog = watch.sample().unfinished
    stack.progress.say(f"drain: {backlog} unfinished deliveries; starting the worker")
    ready = stack.start_worker()
    drained = watch.wait_drained(DRAIN_TIMEOUT, stack.check_alive)
    if drained is None:
        raise ProcessFailed(f"the outbox did not drain within {DRAIN_TIMEOUT:.0f}s")
    cpu = stack.cpu("worker") - float(ready.fields["cpu"])
    records = [r for r in deliveries(stack.records()) if r.at <= drained.at]
    firsts = first_starts(records)
    ends = [r.at for r in records if r.kind == "end"]
    if not firsts or not ends:
        raise ProcessFailed(
            "the probe saw no delivery (no task argument looked like an event envelope)"
        )
    count = len(firsts)
    copies = sum(r.kind == "start" for r in records) - count
    seconds = max(ends) - min(r.at for r in firsts)
    stack.progress.say(
        f"drain: {count} deliveries in {seconds:.1f} s = {rate(count, seconds):.0f}/s"
        f" ({copies} tasks were extra copies of a delivery)"
    )
    return {
        "drain_backlog": float(backlog),
        "drain_deliveries": float(count),
        "drain_deliveries_per_s": rate(count, seconds),
        "drain_worker_cpu_ms_per_delivery": rate(cpu * 1000, count),
        "drain_extra_copies": float(copies),
    }


def _publish_backlog(stack: ProductStack, watch: OutboxWatch) -> None:
    """The worker starts on a backlog already in the broker, as the yardsticks' workers do:
    publishing while it drains would be timed as the worker's. The relay process publishes
    it; without one (or if it has not within the timeout) ``flask outbox relay`` does."""
    deadline = time.time() + PUBLISH_TIMEOUT
    while stack.relay is not None and watch.pending() and time.time() < deadline:
        stack.check_alive()
        time.sleep(0.1)
    if watch.pending():
        stack.progress.say(f"drain: {watch.pending()} deliveries pending; flask outbox relay")
        stack.rig.flask("outbox", "relay")


def run_latency(
    stack: ProductStack, watch: OutboxWatch, profile: Profile, user_id: str
) -> dict[str, float]:
    """Open loop at a fixed command rate, create and pay alternating, the worker running.

    Commit → handler start is measured as ``bench.start_delays`` says (an upper and a lower
    bound)."""
    offered = profile.latency_rate
    stack.progress.say(
        f"latency: {offered:.0f} commands/s (create and pay alternating), open loop, "
        f"for {profile.latency_seconds:.0f} s"
    )
    cpu_before = {name: stack.cpu(name) for name in PROCESSES}
    since = time.time()
    result, answers = start_delays.offer_and_drain(
        stack.port,
        [user_id],
        watch,
        stack.check_alive,
        rate=offered,
        seconds=profile.latency_seconds,
        drain_timeout=DRAIN_TIMEOUT,
        what="latency window",
    )
    cpu = {name: stack.cpu(name) - cpu_before[name] for name in PROCESSES}
    delays = start_delays.measure(stack.records(), answers, since)
    figures = {
        **start_delays.latency_figures(result, delays, offered),
        "command_p50_ms": percentile(result.latencies_ms(), 50),
    }
    for name in PROCESSES:
        figures[f"cpu_ms_per_delivery_{name}"] = rate(cpu[name] * 1000, delays.delivered)
    stack.progress.say(
        f"latency: occurred_at→start p50 {figures['commit_to_start_p50_ms']:.1f} ms, "
        f"p99 {figures['commit_to_start_p99_ms']:.1f} ms over {delays.delivered} deliveries"
    )
    return figures
