"""Projection rebuild speed, and the relay's drain of a pending backlog."""

import time

from bench import rebuild
from bench.numbers import rate
from bench.outbox_watch import OutboxWatch
from bench.processes import ProcessFailed
from bench.product_stack import ProductStack
from bench.profiles import Profile
from bench.progress import Progress
from bench.rig import BIN

RELAY_TIMEOUT = 120.0
RELAY_POLL = 0.01


def run_rebuild(stack: ProductStack, watch: OutboxWatch) -> dict[str, float]:
    """``flask projections rebuild`` over every event so far, less the CLI's start-up time
    (estimated by ``flask --app app routes``, which builds the same app and queries nothing)."""
    count = watch.events()
    startup, _ = stack.rig.flask("routes")
    stack.progress.say(f"rebuild: flask --app app projections rebuild over {count} events")
    wall, output = stack.rig.flask("projections", "rebuild")
    net = max(wall - startup, 1e-3)
    stack.progress.say(f"rebuild: {output.strip()} in {wall:.2f} s ({startup:.2f} s start-up)")
    return {
        "rebuild_events": float(count),
        "rebuild_seconds": wall,
        "rebuild_startup_seconds": startup,
        "rebuild_events_per_s": rate(count, net),
    }


def run_store_rebuild(profile: Profile, progress: Progress) -> dict[str, float]:
    """Both projections rebuilt from a store of ``rebuild_orders`` orders (a throwaway
    PostgreSQL database, seeded directly), a reader process selecting rows of each all the
    while: the throughput on a store large enough that per-rebuild costs (the shadow's DDL,
    the catch-up, the swap) do not dominate, as they do over the few thousand events above."""
    progress.say(f"store rebuild: seeding {profile.rebuild_orders} orders into a throwaway store")
    with rebuild.throwaway_database() as url:
        measured = rebuild.measure(url, profile.rebuild_orders, batch_size=1000)
    for result in measured:
        progress.say(f"store rebuild: {result.line()}")
    events = sum(m.report.events for m in measured)
    return {
        "store_rebuild_events": float(events),
        "store_rebuild_events_per_s": rate(events, sum(m.report.seconds for m in measured)),
        "store_rebuild_slowest_read_ms": max(m.slowest_read_seconds for m in measured) * 1000,
        "store_rebuild_swap_ms": max(m.report.swap_seconds for m in measured) * 1000,
    }


def run_relay_drain(
    stack: ProductStack, watch: OutboxWatch, profile: Profile, startup: float
) -> dict[str, float]:
    """No worker, no beat, no relay process; done deliveries are turned back to pending;
    ``flask outbox relay`` publishes them. The rate counts rows leaving ``pending`` between
    the first batch and the last (when the first batch already took them all, it counts from
    the CLI's launch plus its start-up time, or from the launch when that estimate is longer
    than the run)."""
    stack.stop_all_but_web()
    seeded = watch.make_pending(profile.relay_rows)
    stack.progress.say(f"relay drain: {seeded} pending deliveries; running flask outbox relay")
    launched_at = time.time()
    relay = stack.rig.processes.start(
        "relay-cli", [str(BIN / "flask"), "--app", "app", "outbox", "relay"], stack.rig.base_env()
    )
    first: tuple[float, int] | None = None
    deadline = launched_at + RELAY_TIMEOUT
    while True:
        pending = watch.pending()
        now = time.time()
        if first is None and pending < seeded:
            first = (now, pending)
        if pending == 0:
            break
        if relay.popen.poll() is not None and watch.pending() > 0:
            raise ProcessFailed(f"flask outbox relay left {pending} pending:\n{relay.tail()}")
        if now > deadline:
            raise ProcessFailed(f"{pending} deliveries still pending after {RELAY_TIMEOUT:.0f}s")
        time.sleep(RELAY_POLL)
    assert first is not None
    first_at, left = first
    if left > 0:
        per_second = rate(left, now - first_at)
    else:
        # The start-up estimate comes from another run of the CLI and can exceed this
        # whole run; then the launch-to-done time is all there is (a lower bound).
        net = now - (launched_at + startup)
        per_second = rate(seeded, net if net > 0 else now - launched_at)
    stack.rig.processes.stop(relay)
    stack.progress.say(f"relay drain: {per_second:.0f} deliveries published/s")
    return {"relay_rows": float(seeded), "relay_drain_per_s": per_second}
